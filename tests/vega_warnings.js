// Runs Vega-Lite specs through vega-embed headlessly and prints what Vega logged, per spec.
// Usage: node vega_warnings.js BUNDLE.js < specs.json > messages.json
// BUNDLE.js is the report's own inline bundle (geommm.report.export.javascript_bundle), so the
// Vega and Vega-Lite versions are exactly those the HTML report runs. Nothing is drawn
// (renderer "none"); the dataflow runs in full, so data-driven warnings such as
// 'Infinite extent for field ...' (a scale fed no valid values) are logged as in a browser.
const fs = require('fs');

function element() {
  // just enough of a DOM element for vega-embed with renderer "none" and no actions
  return {
    style: {}, attrs: {}, classList: { add() {}, remove() {}, contains: () => false },
    setAttribute(k, v) { this.attrs[k] = v; }, getAttribute(k) { return this.attrs[k]; },
    removeAttribute() {}, appendChild: (c) => c, removeChild() {}, insertBefore: (c) => c,
    addEventListener() {}, removeEventListener() {}, querySelector: () => null,
    querySelectorAll: () => [], firstChild: null, childNodes: [], innerHTML: '',
  };
}

globalThis.window = globalThis;
globalThis.document = {
  createElement: element, querySelector: () => null, getElementById: () => null,
  head: element(), body: element(), addEventListener() {}, removeEventListener() {},
};
new Function(fs.readFileSync(process.argv[2], 'utf8'))();

(async () => {
  const specs = JSON.parse(fs.readFileSync(0, 'utf8'));
  const write = process.stdout.write.bind(process.stdout);
  const results = [];
  for (const spec of specs) {
    const said = [];
    const keep = (level) => (...args) => { said.push(`${level}: ${args.map(String).join(' ')}`); };
    console.log = keep('log'); console.info = keep('info');
    console.warn = keep('warn'); console.error = keep('error');
    try {
      const result = await window.vegaEmbed(element(), spec, {
        renderer: 'none', actions: false, defaultStyle: false,
      });
      await result.view.runAsync();
      result.finalize();
    } catch (err) {
      said.push(`exception: ${err}`);
    }
    results.push(said);
  }
  write(JSON.stringify(results));
})();
