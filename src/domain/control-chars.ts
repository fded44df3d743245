/**
 * Text from task files and tool calls ends up in log lines and on people's terminals. There, control
 * characters act instead of showing: a newline starts a forged log line, a carriage return overwrites
 * what was printed, ESC starts a terminal command (clear the screen, set the clipboard with OSC 52),
 * bidirectional overrides reorder what is shown. They are replaced by visible escapes such as \n
 * and \u001b, the way JSON writes them.
 *
 * Escaped: C0 controls (except tab, and newline where `multiline`), DEL, C1 controls (U+0080..U+009F,
 * which some terminals obey as 8-bit ESC sequences), the line and paragraph separators U+2028/U+2029
 * and the bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069).
 */
const CONTROL_ONE_LINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_MULTILINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Any of the characters above, tab and newline included: for short names that must be plain text. */
const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** JSON leaves these raw inside strings; escaping them keeps JSON valid and the terminal inert. */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\b': '\\b', '\f': '\\f', '\v': '\\v' };

function escapeOne(char: string): string {
  return NAMED[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every control character replaced by a visible escape. `multiline` keeps newlines (and
 * turns Windows line ends into plain ones) for texts shown on several lines, such as results.
 */
export function escapeControlChars(text: string, options: { multiline?: boolean } = {}): string {
  if (!options.multiline) return text.replace(CONTROL_ONE_LINE, escapeOne);
  return text.replace(/\r\n/g, '\n').replace(CONTROL_MULTILINE, escapeOne);
}

/** JSON text (from JSON.stringify) with the control characters JSON does not escape escaped too. */
export function escapeJsonControlChars(json: string): string {
  return json.replace(RAW_IN_JSON, escapeOne);
}

/** Whether `text` holds any control character (tab and newline included): short names (agent ids, keys) are refused then. */
export function hasControlChars(text: string): boolean {
  return ANY_CONTROL.test(text);
}
