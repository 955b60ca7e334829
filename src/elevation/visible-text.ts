/**
 * Names from the API are echoed to people (cards, replies, channel notifications), and a name can
 * hide characters that change how the text around it reads: bidi overrides and isolates make
 * "Contoso ‮veD‬" show as something else, zero-width characters make two names look alike.
 * They are removed where the name enters the bot, so nothing downstream can echo them.
 */

/**
 * Bidi embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069), the left-to-right,
 * right-to-left and Arabic letter marks (U+200E, U+200F, U+061C), zero-width space, non-joiner
 * and joiner (U+200B–U+200D), word joiner (U+2060) and the byte order mark (U+FEFF).
 */
const INVISIBLE_CONTROLS =
  /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]/g;

/** The text without bidi controls and zero-width characters; everything else as it was. */
export function withoutInvisibleControls(text: string): string {
  return text.replace(INVISIBLE_CONTROLS, '');
}
