// Renders Mermaid diagrams with the real Mermaid in headless Chromium and reports what it drew.
//
//   node mermaid_renderer.cjs NODE_MODULES_DIR < diagrams.json > results.json
//
// stdin: a JSON list of diagram texts.  stdout: a JSON list with, for each diagram,
// {"ok": true, "edges": N, "edge_labels": [...], "svg_length": N} or {"ok": false, "error": "..."}.
// Mermaid reports some layout failures only by leaving edges out, hence the edge count.
// Needs the npm packages mermaid and playwright-core in NODE_MODULES_DIR and a Chromium
// (CHROMIUM, default /usr/bin/chromium): nothing here downloads a browser.
// With SCREENSHOT_DIR set, each rendered diagram is also saved there as N.png.
"use strict";
const path = require("path");
const fs = require("fs");

async function main() {
  const modules = process.argv[2];
  const { chromium } = require(path.join(modules, "playwright-core"));
  const mermaidJs = path.join(modules, "mermaid", "dist", "mermaid.min.js");
  const diagrams = JSON.parse(fs.readFileSync(0, "utf8"));
  const screenshots = process.env.SCREENSHOT_DIR;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    await page.setContent("<!doctype html><html><body><div id='out'></div></body></html>");
    await page.addScriptTag({ path: mermaidJs });
    await page.evaluate(() => mermaid.initialize({ startOnLoad: false, securityLevel: "strict" }));
    const results = [];
    for (let i = 0; i < diagrams.length; i++) {
      const result = await page.evaluate(async ([text, id]) => {
        try {
          await mermaid.parse(text);
          const { svg } = await mermaid.render(id, text);
          const out = document.getElementById("out");
          out.innerHTML = svg;
          const edges = out.querySelectorAll("path.transition").length;
          const labels = Array.from(out.querySelectorAll("g.edgeLabel")).map((n) => n.textContent);
          // boxes in the SVG's own units, whatever size the page shows it at
          const toSvg = out.querySelector("svg").getScreenCTM().inverse();
          const box = (element) => {
            const r = element.getBoundingClientRect();
            const a = new DOMPoint(r.left, r.top).matrixTransform(toSvg);
            const b = new DOMPoint(r.right, r.bottom).matrixTransform(toSvg);
            return [a.x, a.y, b.x, b.y];
          };
          const prefix = id + "-state-";
          const name = (element) => element.id.slice(prefix.length).replace(/-\d+$/, "");
          const states = [];
          for (const node of out.querySelectorAll("g.node")) {
            if (node.id.startsWith(prefix)) states.push([name(node), box(node)]);
          }
          const clusters = [];
          const regions = [];
          for (const cluster of out.querySelectorAll("g.statediagram-cluster")) {
            const divider = cluster.querySelector(":scope > rect.divider, :scope > g > rect.divider");
            const outer = cluster.querySelector(":scope > rect.outer, :scope > g > rect.outer");
            if (divider) regions.push(box(divider));
            else if (outer) clusters.push([name(cluster), box(outer)]);
          }
          return { ok: true, edges, edge_labels: labels, svg_length: svg.length,
                   states, clusters, regions };
        } catch (e) {
          return { ok: false, error: String((e && e.message) || e) };
        }
      }, [diagrams[i], "diagram" + i]);
      if (screenshots && result.ok) {
        await page.locator("#out svg").screenshot({ path: path.join(screenshots, i + ".png") });
      }
      results.push(result);
    }
    process.stdout.write(JSON.stringify(results));
  } finally {
    await browser.close();
  }
}

main().catch((e) => { process.stderr.write(String((e && e.stack) || e) + "\n"); process.exit(2); });
