/**
 * Bounds on every text the tools take in. Without them one oversized field (a 5 MB description) is
 * stored, then repeated in every prompt and session reply until those exceed what clients accept
 * (10 MiB per message) and the connection drops. Long work products belong in detailed_work, which
 * goes to a file and is only referenced.
 */
export const LIMITS = {
  description: 10_000,
  context: 20_000,
  title: 300,
  subtaskDescription: 10_000,
  estimatedEffort: 200,
  handle: 200,
  results: 10_000,
  detailedWork: 1_000_000,
  artifact: 1_000,
  artifacts: 200,
  artifactType: 100,
} as const;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `value` cannot be stored as the field `field`, or null. Text with an unpaired UTF-16 surrogate
 * is refused: written to a UTF-8 file it would silently become U+FFFD, and we keep text exactly.
 */
export function textProblem(field: string, value: string, max: number, hint = ''): string | null {
  if (value.length > max) return `${field} is ${value.length.toLocaleString('en-US')} characters long; at most ${max.toLocaleString('en-US')} are accepted.${hint ? ` ${hint}` : ''}`;
  const lone = LONE_SURROGATE.exec(value);
  if (lone) return `${field} has an unpaired UTF-16 surrogate (\\u${lone[0].charCodeAt(0).toString(16)}) at character ${lone.index}: it is not valid Unicode text and could not be stored exactly. Send well-formed text.`;
  return null;
}
