/** The page `qdeploy maintenance on` serves when no --file is given: self-contained (every request gets it, so no assets). */
export const DEFAULT_MAINTENANCE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Down for maintenance</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; color: #222; background: #fafafa; margin: 0; display: grid; place-items: center; min-height: 100vh; }
  main { max-width: 32rem; padding: 2rem; text-align: center; }
  h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
</style>
</head>
<body>
<main>
<h1>Down for maintenance</h1>
<p>We are working on this site right now. Please try again in a few minutes.</p>
</main>
</body>
</html>
`;
