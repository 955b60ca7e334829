/**
 * The justification rule: why the requester needs the role, in at most 500 characters, and
 * required unless the operator turned that off (JUSTIFICATION_REQUIRED).
 */

/** Longest justification kept; longer text is refused rather than cut silently. */
const MAX_JUSTIFICATION_LENGTH = 500;

/** What is wrong with a (trimmed) justification, in the user's words; undefined when nothing. */
export function justificationProblem(justification: string, required: boolean): string | undefined {
  if (justification.length > MAX_JUSTIFICATION_LENGTH) {
    return `The justification is ${justification.length} characters long; at most ${MAX_JUSTIFICATION_LENGTH} are allowed.`;
  }
  if (required && justification.length === 0) {
    return 'A justification is required: say why you need System Administrator in this environment.';
  }
  return undefined;
}
