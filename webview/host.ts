// What a view of the webview gets from its environment: a typed channel to the extension host (checked at
// every post), the state VS Code keeps across hide/show and reload, and the theme's colours.

import type { FromWebviewMessage, WebviewState } from '../src/shared/protocol';
import type { ThemeColors } from './theme';

export interface ViewHost {
  /** The one way to talk to the extension host: a webview → host message of the protocol's union. */
  post(message: FromWebviewMessage): void;
  getState(): WebviewState;
  setState(patch: Partial<WebviewState>): void;
  colors(): ThemeColors;
  /** False in an exported report (no extension host to answer). */
  interactive: boolean;
}
