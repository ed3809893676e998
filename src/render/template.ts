/**
 * `{{name}}` substitution for the unit and Caddy templates in systemd/ and caddy/.
 * Strict both ways: a placeholder without a value and a value without a placeholder both
 * throw, so a renamed placeholder cannot silently render an empty line or a stale one.
 */

const PLACEHOLDER = /\{\{([A-Za-z][A-Za-z0-9_]*)\}\}/g;

/** Fills every `{{name}}` in `template` from `values`, in one pass (values are not re-scanned). */
export function renderTemplate(template: string, values: Record<string, string>, name = "template"): string {
  const used = new Set<string>();
  const out = template.replace(PLACEHOLDER, (_, key: string) => {
    if (!Object.hasOwn(values, key)) throw new Error(`${name}: no value for placeholder {{${key}}}`);
    used.add(key);
    return values[key]!;
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`${name}: no placeholder for ${unused.map((k) => `{{${k}}}`).join(", ")}`);
  const rest = template.replace(PLACEHOLDER, "");
  const at = rest.indexOf("{{");
  if (at >= 0) throw new Error(`${name}: malformed placeholder near "${rest.slice(at, at + 30)}"`);
  return out;
}
