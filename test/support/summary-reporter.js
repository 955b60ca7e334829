/**
 * Prints the plain closing line CI reads: "N passed, N failed".
 * Suites that fail to run at all count their tests as failed (at least one each).
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    let failed = results.numFailedTests;
    for (const suite of results.testResults) {
      if (suite.testExecError && suite.numFailingTests === 0) failed += 1;
    }
    const skipped = results.numPendingTests + results.numTodoTests;
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    process.stdout.write(`\n${results.numPassedTests} passed, ${failed} failed${tail}\n`);
  }
}
module.exports = SummaryReporter;
