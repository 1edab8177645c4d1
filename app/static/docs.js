// The API reference, rendered from /openapi.json by this script (self-hosted: Swagger UI would need a CDN
// and inline script, which the pages' Content-Security-Policy forbids). All text goes in via textContent.
"use strict";

(function () {
  const main = document.getElementById("docs");
  const origin = window.location.origin;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function resolve(spec, schema) {
    let s = schema || {};
    const seen = new Set();
    while (s && s.$ref && !seen.has(s.$ref)) {
      seen.add(s.$ref);
      s = s.$ref.split("/").slice(1).reduce((o, k) => (o ? o[k] : undefined), spec) || {};
    }
    return s;
  }

  function refName(schema) {
    return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
  }

  function typeOf(spec, schema) {
    if (!schema) return "";
    if (schema.$ref) return refName(schema);
    if (schema.anyOf) return schema.anyOf.map((s) => typeOf(spec, s)).join(" | ");
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.type === "array") return "[" + typeOf(spec, schema.items) + "]";
    if (schema.type === "object" && schema.additionalProperties) return "{string: " + typeOf(spec, schema.additionalProperties) + "}";
    return schema.type || "any";
  }

  function constraints(schema) {
    const parts = [];
    const s = schema.anyOf ? schema.anyOf.find((x) => x.type && x.type !== "null") || schema : schema;
    if (s.minLength !== undefined) parts.push("min length " + s.minLength);
    if (s.maxLength !== undefined) parts.push("max length " + s.maxLength);
    if (s.minItems !== undefined) parts.push("min items " + s.minItems);
    if (s.maxItems !== undefined) parts.push("max items " + s.maxItems);
    if (s.minimum !== undefined) parts.push("≥ " + s.minimum);
    if (s.maximum !== undefined) parts.push("≤ " + s.maximum);
    if (s.pattern !== undefined) parts.push("pattern " + s.pattern);
    if (schema.default !== undefined) parts.push("default " + JSON.stringify(schema.default));
    return parts.join(", ");
  }

  function fieldsTable(spec, schema) {
    const s = resolve(spec, schema);
    if (!s.properties) return el("p", { text: typeOf(spec, schema) });
    const required = new Set(s.required || []);
    const rows = Object.entries(s.properties).map(([name, prop]) =>
      el(
        "tr",
        null,
        el("td", null, name, required.has(name) ? el("span", { class: "req", text: "required" }) : null),
        el("td", { text: typeOf(spec, prop) }),
        el("td", { text: [prop.description || prop.title || "", constraints(prop)].filter(Boolean).join(" — ") }),
      ),
    );
    return el(
      "table",
      { class: "fields" },
      el("thead", null, el("tr", null, el("th", { text: "field" }), el("th", { text: "type" }), el("th", { text: "notes" }))),
      el("tbody", null, ...rows),
    );
  }

  function curl(method, path, op, spec) {
    const url = origin + path.replace(/\{(\w+)\}/g, (m, name) => (name === "key" ? encodeURIComponent("张平安") : name));
    if (method === "get") return "curl -s '" + url + "'";
    const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    let example = {};
    const schema = body ? resolve(spec, body.schema) : {};
    if (schema.examples && schema.examples.length) example = schema.examples[0];
    else if (path === "/feedback") example = { ask_id: "<ask_id from /ask>", rating: "up", question: "中国移动目前全国客户规模有多少？" };
    return "curl -s '" + url + "' -H 'Content-Type: application/json' \\\n     -d '" + JSON.stringify(example) + "'";
  }

  function description(text) {
    // The descriptions are Markdown; show paragraphs as text and fenced blocks as code, nothing else.
    const out = [];
    const blocks = String(text || "").split(/```/);
    blocks.forEach((block, i) => {
      if (i % 2 === 1) out.push(el("pre", { text: block.replace(/^\w*\n/, "").replace(/\n$/, "") }));
      else for (const para of block.split(/\n\s*\n/)) if (para.trim()) out.push(el("p", { text: para.trim().replace(/`/g, "") }));
    });
    return out;
  }

  function operation(spec, path, method, op) {
    const box = el(
      "section",
      { class: "op", id: (method + path).replace(/[^a-z0-9]+/gi, "-") },
      el("h3", null, el("span", { class: "method " + method, text: method.toUpperCase() }), el("span", { class: "path", text: path }), el("span", { text: op.summary || "" })),
      ...description(op.description),
    );
    const params = op.parameters || [];
    if (params.length) {
      box.append(el("h4", { text: "Parameters" }));
      box.append(
        el(
          "table",
          { class: "fields" },
          el("tbody", null, ...params.map((p) => el("tr", null, el("td", { text: p.name }), el("td", { text: p.in + ", " + typeOf(spec, p.schema) }), el("td", { text: p.description || "" })))),
        ),
      );
    }
    const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (body) {
      box.append(el("h4", { text: "Request body (" + (refName(body.schema) || "JSON") + ")" }), fieldsTable(spec, body.schema));
    }
    const responses = Object.entries(op.responses || {});
    if (responses.length) {
      box.append(el("h4", { text: "Responses" }));
      const list = el("ul");
      for (const [code, r] of responses) {
        const content = r.content && r.content["application/json"];
        const schema = content ? typeOf(spec, content.schema) : "";
        list.append(el("li", null, el("code", { text: code }), " ", r.description || "", schema ? " → " + schema : ""));
      }
      box.append(list);
    }
    box.append(el("h4", { text: "Example" }), el("pre", { text: curl(method, path, op, spec) }));
    return box;
  }

  function render(spec) {
    const nodes = [el("h2", { text: spec.info.title + " " + spec.info.version }), ...description(spec.info.description)];
    const toc = el("ul");
    const ops = [];
    for (const [path, methods] of Object.entries(spec.paths || {})) {
      for (const [method, op] of Object.entries(methods)) {
        const section = operation(spec, path, method, op);
        ops.push(section);
        toc.append(el("li", null, el("a", { href: "#" + section.id, text: method.toUpperCase() + " " + path }), " — " + (op.summary || "")));
      }
    }
    nodes.push(el("h2", { text: "Endpoints" }), toc, ...ops, el("h2", { text: "Schemas" }));
    for (const [name, schema] of Object.entries((spec.components || {}).schemas || {})) {
      nodes.push(el("section", { class: "op", id: "schema-" + name }, el("h3", { text: name }), ...description(schema.description), fieldsTable(spec, schema)));
    }
    main.replaceChildren(...nodes);
  }

  fetch("/openapi.json", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then(render)
    .catch((e) => main.replaceChildren(el("p", { text: "Could not load /openapi.json (" + e.message + ")." })));
})();
