// Text files imported with `with { type: "text" }` (embedded by `bun build --compile`).
declare module "*.sh" {
  const text: string;
  export default text;
}
declare module "*.service" {
  const text: string;
  export default text;
}
declare module "*.timer" {
  const text: string;
  export default text;
}
declare module "*.caddy" {
  const text: string;
  export default text;
}
declare module "*/Caddyfile" {
  const text: string;
  export default text;
}
declare module "*.conf" {
  const text: string;
  export default text;
}
