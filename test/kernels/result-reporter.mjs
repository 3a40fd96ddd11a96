// A node:test reporter for the CO-RE suite: one JSON line per test (not per suite) with the file
// (when the runner knows it) or else its top-level suite, its name, outcome and, for a failure or
// a skip, the message; the harness tabulates them per gadget.
export default async function* resultReporter(source) {
  let suite = '';
  for await (const event of source) {
    if (event.type === 'test:start' && event.data.nesting === 0) suite = event.data.name;
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    // a suite counts only when it was skipped as a whole (its tests then report nothing)
    if (d.details?.type === 'suite' && d.skip === undefined) continue;
    const failed = event.type === 'test:fail';
    const status = failed ? 'fail' : d.skip !== undefined ? 'skip' : d.todo !== undefined ? 'todo' : 'pass';
    const err = d.details?.error;
    const message = failed ? String(err?.cause?.message ?? err?.message ?? err) : typeof d.skip === 'string' ? d.skip : undefined;
    yield `${JSON.stringify({ file: d.file, suite, name: d.name, status, message })}\n`;
  }
}
