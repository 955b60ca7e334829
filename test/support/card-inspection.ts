/** Reading cards the way a renderer does, to check what is and is not treated as Markdown. */

/** Every string a renderer reads as Markdown: TextBlock text and FactSet facts. */
export function markdownTexts(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => markdownTexts(n, out));
  else if (node && typeof node === 'object') {
    const element = node as Record<string, unknown>;
    if (element.type === 'TextBlock' && typeof element.text === 'string') out.push(element.text);
    if (element.type === 'FactSet') out.push(JSON.stringify(element.facts));
    Object.values(element).forEach((child) => markdownTexts(child, out));
  }
  return out;
}

/** Every TextRun's text: shown verbatim, never read as Markdown. */
export function textRuns(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => textRuns(n, out));
  else if (node && typeof node === 'object') {
    const element = node as Record<string, unknown>;
    if (element.type === 'TextRun' && typeof element.text === 'string') out.push(element.text);
    Object.values(element).forEach((child) => textRuns(child, out));
  }
  return out;
}
