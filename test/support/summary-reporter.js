/**
 * The plain closing line CI reads: "N passed, N failed". Suites that fail to run at all count as
 * one failure each. With TEST_SUMMARY_FILE set (scripts/test.sh), the line goes to that file so
 * that the script can print it last, after jest's own summary.
 */
const { writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    let failed = results.numFailedTests;
    for (const suite of results.testResults) {
      if (suite.testExecError && suite.numFailingTests === 0) failed += 1;
    }
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
    if (process.env.TEST_SUMMARY_FILE) writeFileSync(process.env.TEST_SUMMARY_FILE, `${line}\n`);
    else process.stdout.write(`\n${line}\n`);
  }
}
module.exports = SummaryReporter;
