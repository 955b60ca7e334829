/**
 * The justification rule without a policy rule behind it (an extension's reason): at most 500
 * characters, and required unless told otherwise. policy/checks.ts holds the rule itself.
 */
import { justificationProblem as ruleProblem } from '../policy/checks';

/** What is wrong with a (trimmed) justification, in the user's words; undefined when nothing. */
export function justificationProblem(justification: string, required: boolean): string | undefined {
  return ruleProblem({ name: 'settings', justification: { required } }, justification);
}
