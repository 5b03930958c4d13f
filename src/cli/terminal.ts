// Text from files printed to a terminal: control characters (ESC sequences that clear the screen, retitle the
// window or hide text; other C0/C1 codes) are shown escaped, never interpreted. Tabs stay.

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function terminalSafe(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
