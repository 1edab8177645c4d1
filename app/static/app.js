// The chat page. Every piece of data reaches the DOM through textContent / createElement — never
// innerHTML — so a question or a quote containing markup is shown as text and can execute nothing.
"use strict";

(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const STRINGS = boot.strings;
  const LIMITS = boot.limits;
  const ASK_TIMEOUT_MS = 60000;

  const state = {
    lang: initialLanguage(),
    speaker: null, // the selected filter chip (a speaker name), null for all
    speakers: boot.speakers || [],
    turns: [],
    pending: null, // the turn waiting for its answer
    nextId: 1,
  };

  const $ = (id) => document.getElementById(id);
  const conversation = $("conversation");
  const welcome = $("welcome");
  const form = $("composer");
  const input = $("question");
  const sendButton = $("send");
  const count = $("composer-count");
  const panel = $("panel");
  const panelBody = $("panel-body");
  const panelSub = $("panel-sub");
  let panelOpener = null;
  let panelRequest = 0;

  // ------------------------------------------------------------ language

  function initialLanguage() {
    try {
      const saved = window.localStorage.getItem("rag.lang");
      if (saved === "zh" || saved === "en") return saved;
    } catch (e) {
      /* storage may be disabled; fall back to the browser's language */
    }
    const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    for (const tag of prefs) {
      const low = String(tag).toLowerCase();
      if (low.startsWith("zh")) return "zh";
      if (low.startsWith("en")) return "en";
    }
    return boot.lang === "zh" ? "zh" : "en";
  }

  function t(key, vars) {
    let s = (STRINGS[state.lang] && STRINGS[state.lang][key]) || STRINGS.en[key] || key;
    if (vars) {
      for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    }
    return s;
  }

  function setLanguage(lang) {
    state.lang = lang;
    try {
      window.localStorage.setItem("rag.lang", lang);
    } catch (e) {
      /* not remembered; still switched */
    }
    applyStrings();
  }

  function applyStrings() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
    }
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    }
    renderExamples();
    renderChips();
    for (const turn of state.turns) renderTurn(turn);
    updateCount();
    autoGrow();
    if (!panel.hidden && panel.dataset.key) reopenPanel();
  }

  // ------------------------------------------------------------ DOM helpers

  // el("p", {class: "x", text: "…"}, child, …): attributes via setAttribute, text via textContent.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "text") node.textContent = value;
        else if (key === "class") node.className = value;
        else if (key === "hidden") node.hidden = true;
        else if (key.startsWith("on")) throw new Error("use addEventListener");
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Material icons' thumbs (drawn, not emoji: machines without a colour-emoji font would show boxes).
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    up: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
    down: "M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z",
  };

  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  function button(label, cls, handler, attrs) {
    const b = el("button", Object.assign({ type: "button", class: cls, text: label }, attrs || {}));
    b.addEventListener("click", handler);
    return b;
  }

  // Python counts offsets in code points; JS strings are UTF-16. Slice by code points.
  function splitAt(paragraph, start, end, text) {
    const chars = Array.from(paragraph);
    let before = chars.slice(0, start).join("");
    let middle = chars.slice(start, end).join("");
    let after = chars.slice(end).join("");
    if (text && middle !== text) {
      const at = paragraph.indexOf(text);
      if (at < 0) return [paragraph, "", ""];
      before = paragraph.slice(0, at);
      middle = text;
      after = paragraph.slice(at + text.length);
    }
    return [before, middle, after];
  }

  // ------------------------------------------------------------ speakers and filter chips

  function speakerLabel(s) {
    return state.lang === "en" && s.name_en ? s.name_en : s.name;
  }

  function renderChips() {
    const box = $("chips");
    box.replaceChildren();
    const all = button(t("filter_all"), "chip", () => selectSpeaker(null), {
      "aria-pressed": state.speaker === null ? "true" : "false",
    });
    box.append(all);
    for (const s of state.speakers) {
      const role = state.lang === "en"
        ? [s.title_en || s.title, s.organization_en || s.organization]
        : [s.title, s.organization];
      const chip = button(speakerLabel(s), "chip", () => selectSpeaker(s.name), {
        "aria-pressed": state.speaker === s.name ? "true" : "false",
        title: [s.name, role.filter(Boolean).join(", ")].join(" · "),
        "data-speaker": s.name,
      });
      box.append(chip);
    }
  }

  function selectSpeaker(name) {
    state.speaker = name;
    renderChips();
    input.focus();
  }

  async function loadSpeakers(attempt) {
    if (state.speakers.length) return;
    try {
      const response = await fetch("/speakers", { headers: { Accept: "application/json" } });
      if (response.ok) {
        state.speakers = await response.json();
        renderChips();
        return;
      }
    } catch (e) {
      /* retried below */
    }
    if (attempt < 20) window.setTimeout(() => loadSpeakers(attempt + 1), 1500);
  }

  // ------------------------------------------------------------ examples

  function renderExamples() {
    const list = $("examples");
    list.replaceChildren();
    for (const q of boot.examples[state.lang] || []) {
      list.append(el("li", null, button(q, "example", () => ask(q))));
    }
  }

  function updateWelcome() {
    welcome.hidden = state.turns.length > 0;
  }

  // ------------------------------------------------------------ asking

  function historyFor(turn) {
    // Earlier answered turns, most recent last, trimmed to fit the server's body limit.
    const earlier = state.turns.filter((x) => x.id < turn.id && x.answer).slice(-LIMITS.history);
    // A follow-up's resolved form ("他还说了什么？" → the topic it continues) keeps a chain of follow-ups on topic.
    const history = earlier.map((x) => ({
      question: (x.answer.resolved_question || x.question).slice(0, LIMITS.question),
      answer: x.answer.answer,
      speakers: x.answer.speakers.slice(0, 20),
    }));
    const budget = Math.max(1024, LIMITS.body - 4096);
    const size = () => new TextEncoder().encode(JSON.stringify(history)).length + turn.question.length * 3;
    for (let i = 0; i < history.length - 1 && size() > budget; i++) history[i].answer = null;
    while (history.length > 1 && size() > budget) history.shift();
    return history;
  }

  function ask(question) {
    const q = (question || "").trim();
    if (!q || state.pending) return;
    if (Array.from(q).length > LIMITS.question) {
      updateCount(true);
      return;
    }
    const turn = {
      id: state.nextId++,
      question: q,
      speaker: state.speaker,
      status: "pending",
      answer: null,
      error: null,
      latency: null,
      feedback: { rating: null, comment: "", status: null },
      node: null,
    };
    state.turns.push(turn);
    input.value = "";
    autoGrow();
    updateCount();
    updateWelcome();
    send(turn);
  }

  async function send(turn) {
    turn.status = "pending";
    turn.error = null;
    state.pending = turn;
    sendButton.disabled = true;
    renderTurn(turn);
    turn.node.scrollIntoView({ block: "end", behavior: "smooth" });
    const body = { question: turn.question, history: historyFor(turn) };
    if (turn.speaker) body.speaker = turn.speaker;
    const controller = new AbortController();
    turn.controller = controller;
    const timer = window.setTimeout(() => controller.abort(), ASK_TIMEOUT_MS);
    const started = performance.now();
    try {
      const response = await fetch("/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      let data = null;
      try {
        data = await response.json();
      } catch (e) {
        data = null;
      }
      if (response.ok && data) {
        turn.answer = data;
        turn.latency = performance.now() - started;
        turn.status = "done";
      } else {
        turn.status = "error";
        turn.error = errorMessage(response.status, data);
      }
    } catch (e) {
      if (!state.turns.includes(turn)) return; // the conversation was cleared meanwhile
      turn.status = "error";
      turn.error = t("error_network");
    } finally {
      window.clearTimeout(timer);
      turn.controller = null;
      if (state.pending === turn) state.pending = null;
      sendButton.disabled = false;
    }
    if (!state.turns.includes(turn)) return;
    renderTurn(turn);
    turn.node.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  function errorMessage(status, data) {
    if (status === 413) return t("error_too_large");
    if (status === 429 || (status === 503 && data && /busy/i.test(data.detail || ""))) return t("error_busy");
    if (status === 503) return t("error_loading");
    if ((status === 400 || status === 422) && data && data.detail) return String(data.detail);
    return t("error_server");
  }

  function newConversation() {
    if (state.pending && state.pending.controller) state.pending.controller.abort();
    state.pending = null;
    sendButton.disabled = false;
    for (const turn of state.turns) if (turn.node) turn.node.remove();
    state.turns = [];
    updateWelcome();
    closePanel();
    input.focus();
  }

  // ------------------------------------------------------------ rendering a turn

  function renderTurn(turn) {
    const node = turn.node || el("article", { class: "turn", id: "turn-" + turn.id });
    if (!turn.node) {
      conversation.append(node);
      turn.node = node;
    }
    node.setAttribute("aria-busy", turn.status === "pending" ? "true" : "false");
    const q = el(
      "div",
      { class: "q" },
      el("span", { class: "q-label", text: t("you"), "aria-hidden": "true" }),
      el("p", { class: "q-text", text: turn.question }),
    );
    if (turn.speaker) {
      const s = state.speakers.find((x) => x.name === turn.speaker);
      q.append(el("span", { class: "q-filter", text: t("only_speaker", { name: s ? speakerLabel(s) : turn.speaker }) }));
    }
    node.replaceChildren(q, renderAnswer(turn));
  }

  function renderAnswer(turn) {
    if (turn.status === "pending") {
      return el(
        "div",
        { class: "a pending", role: "status" },
        el("span", { class: "dots", "aria-hidden": "true" }, el("i"), el("i"), el("i")),
        el("span", { text: t("pending") }),
      );
    }
    if (turn.status === "error") {
      return el(
        "div",
        { class: "a error", role: "alert" },
        el("p", { class: "a-title", text: t("error_title") }),
        el("p", { class: "error-text", text: turn.error }),
        button(t("retry"), "small", () => send(turn)),
      );
    }
    const answer = turn.answer;
    return answer.found ? renderFound(turn, answer) : renderNotFound(turn, answer);
  }

  function displayName(q) {
    if (q.kind === "editor_note") return t("editor_note");
    if (isDocumentVoice(q)) return t("report_text");
    return state.lang === "en" && q.speaker_en ? q.speaker_en : q.speaker;
  }

  // The document's own words (an editor's note, a report's narrative): no person said them.
  function isDocumentVoice(q) {
    return q.attribution === null || q.kind === "editor_note";
  }

  function reportedBy(q) {
    const source = state.lang === "en" ? q.source_en || q.source : q.source;
    return source ? t("reported_by", { source }) : t("reported_plain");
  }

  function renderFound(turn, answer) {
    const box = el("div", { class: "a found" });
    const quotes = answer.quotes;
    if (answer.intent === "multi") {
      box.append(el("p", { class: "lead", text: t("lead_multi", { n: new Set(quotes.map((q) => q.speaker)).size }) }));
      const groups = new Map();
      for (const q of quotes) {
        if (!groups.has(q.speaker)) groups.set(q.speaker, []);
        groups.get(q.speaker).push(q);
      }
      let n = 0;
      for (const [, group] of groups) {
        n += 1;
        const head = el("h3", { class: "group-head" }, el("span", { class: "group-n", text: String(n) }), attributionNode(group[0]));
        const section = el("section", { class: "group" }, head);
        for (const q of group) section.append(card(q, answer, { grouped: true }));
        box.append(section);
      }
    } else {
      if (answer.intent === "who") box.append(el("p", { class: "lead", text: t("lead_who", { name: displayName(quotes[0]) }) }));
      if (answer.intent === "more") box.append(el("p", { class: "lead", text: t("lead_more", { name: displayName(quotes[0]) }) }));
      box.append(card(quotes[0], answer, { primary: true }));
      if (quotes.length > 1) {
        const more = el("details", { class: "more" }, el("summary", { text: t("more_quotes", { n: quotes.length - 1 }) }));
        for (const q of quotes.slice(1)) more.append(card(q, answer, {}));
        box.append(more);
      }
    }
    box.append(meta(answer, turn), feedbackBar(turn));
    return box;
  }

  function renderNotFound(turn, answer) {
    const box = el(
      "div",
      { class: "a notfound" },
      el(
        "div",
        { class: "nf-head" },
        el("span", { class: "nf-icon", "aria-hidden": "true", text: "∅" }),
        el("div", null, el("p", { class: "a-title", text: t("not_found_title") }), el("p", { text: t("not_found_text") })),
      ),
    );
    if (answer.closest && answer.closest.length) {
      const closest = el("details", { class: "closest" }, el("summary", { text: t("closest_toggle") }));
      for (const q of answer.closest) closest.append(card(q, answer, { closest: true }));
      box.append(closest);
    }
    box.append(meta(answer, turn), feedbackBar(turn));
    return box;
  }

  function meta(answer, turn) {
    const parts = [];
    const resolved = (answer.resolved_question || "").trim();
    if (resolved && resolved !== answer.question.trim() && answer.intent !== "more") {
      parts.push(t("resolved_as", { q: answer.resolved_question }));
    }
    const ms = Math.round(turn.latency != null ? turn.latency : answer.timings_ms.total);
    parts.push(t("elapsed", { ms }) + (answer.cached ? t("cached") : ""));
    return el("p", { class: "meta", text: parts.join(" · ") });
  }

  // ------------------------------------------------------------ quote cards

  function roleParts(q, english) {
    if (isDocumentVoice(q)) return [q.organization];
    return english
      ? [q.title_en || q.title, q.organization_en || q.organization]
      : [q.title, q.organization];
  }

  function attributionNode(q) {
    const english = state.lang === "en";
    const node = el(
      "span",
      { class: "attribution" },
      el("span", { class: "who", text: displayName(q) }),
      el("span", { class: "role", text: roleParts(q, english).filter(Boolean).join(english ? ", " : "，") }),
    );
    if (english && !isDocumentVoice(q)) {
      // The English forms, then the original Chinese ones (the quote itself always stays Chinese).
      const zh = [q.speaker, q.title, q.organization].filter(Boolean).join("，");
      node.append(el("span", { class: "zh-forms", lang: "zh-CN", text: zh }));
    }
    return node;
  }

  function colon() {
    return state.lang === "en" ? ": " : "：";
  }

  function documentFor(q, answer) {
    return (answer.documents && answer.documents[q.document]) || { slug: q.document, title: q.document, source: "", date: "" };
  }

  function sourceText(doc) {
    if (state.lang === "en") return [doc.source_en || doc.source, doc.title ? "“" + doc.title + "”" : "", doc.date].filter(Boolean).join(", ");
    return [doc.source, doc.title ? "《" + doc.title + "》" : "", doc.date].filter(Boolean).join("，");
  }

  // What the copy button copies: own words in quotation marks; reported speech as reported, never quoted.
  function citation(q, answer) {
    const english = state.lang === "en";
    const doc = sourceText(documentFor(q, answer)) + (q.page ? (english ? ", " : "，") + t("page", { n: q.page }) : "");
    const name = isDocumentVoice(q) ? displayName(q) : english && q.speaker_en ? q.speaker_en + " (" + q.speaker + ")" : q.speaker;
    const who = [name, ...roleParts(q, english)].filter(Boolean).join(english ? ", " : "，");
    if (q.attribution === "reported") {
      return english
        ? reportedBy(q) + ": " + q.text + " (" + t("reported_note") + ") — " + who + (doc ? " (" + doc + ")" : "")
        : reportedBy(q) + "：" + q.text + "（" + t("reported_note") + "）—— " + who + (doc ? "（" + doc + "）" : "");
    }
    return english
      ? "“" + q.text + "” — " + who + (doc ? " (" + doc + ")" : "")
      : "“" + q.text + "” —— " + who + (doc ? "（" + doc + "）" : "");
  }

  // The words of a quote: a speaker's own in a blockquote; reported speech labelled and never a blockquote.
  function excerptNode(q) {
    if (q.attribution === "reported") {
      return el(
        "div",
        { class: "excerpt reported" },
        el("p", { class: "reported-lead", text: reportedBy(q) + colon() }),
        el("p", { class: "reported-text", lang: "zh-CN", text: q.text }),
        el("p", { class: "reported-note", text: t("reported_note") }),
      );
    }
    return el("blockquote", { class: "excerpt", lang: "zh-CN" }, el("p", { text: q.text }));
  }

  function askedNode(q) {
    const who = q.context_by ? t("asked_by", { who: q.context_by }) : t("question_label");
    return el("p", { class: "asked" }, el("span", { class: "label", text: who + colon() }), el("span", { lang: "zh-CN", text: q.context }));
  }

  function card(q, answer, opts) {
    const classes = ["card"];
    if (opts.primary) classes.push("best");
    if (opts.closest) classes.push("closest-card");
    if (isDocumentVoice(q)) classes.push("editor");
    if (q.attribution === "reported") classes.push("reported-card");
    const node = el("figure", { class: classes.join(" "), "data-paragraph-id": q.paragraph_id, "data-attribution": q.attribution || "document" });
    if (opts.closest) node.append(el("span", { class: "badge", text: t("closest_badge") }));
    if (q.context) node.append(askedNode(q));
    node.append(excerptNode(q));
    const caption = el("figcaption", null);
    if (!opts.grouped) caption.append(attributionNode(q));
    if (q.headline) caption.append(el("p", { class: "headline" }, el("span", { class: "label", text: t("section") + colon() }), el("span", { lang: "zh-CN", text: q.headline })));
    const doc = documentFor(q, answer);
    const where = sourceText(doc) + (q.page ? (state.lang === "en" ? ", " : "，") + t("page", { n: q.page }) : "");
    caption.append(el("p", { class: "source" }, el("span", { class: "label", text: t("source") + colon() }), el("span", { text: where })));
    node.append(caption);

    const actions = el("div", { class: "card-actions" });
    const whole = q.start === 0 && Array.from(q.paragraph).length === q.end;
    if (!whole) {
      const contextId = "ctx-" + Math.random().toString(36).slice(2);
      const [before, middle, after] = splitAt(q.paragraph, q.start, q.end, q.text);
      const context = el("div", { class: "context", id: contextId, lang: "zh-CN", hidden: true }, el("p", null, before, el("mark", { text: middle }), after));
      const toggle = button(t("show_paragraph"), "small", () => {
        const open = context.hidden;
        context.hidden = !open;
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
        toggle.textContent = open ? t("hide_paragraph") : t("show_paragraph");
      }, { "aria-expanded": "false", "aria-controls": contextId, "data-action": "paragraph" });
      node.append(context);
      actions.append(toggle);
    }
    actions.append(button(t("open_speech"), "small", (ev) => openSpeech(q, ev.currentTarget)));
    const copy = button(t("copy"), "small copy", () => copyText(citation(q, answer), copy));
    actions.append(copy);
    node.append(actions);
    return node;
  }

  async function copyText(text, btn) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (e) {
      ok = false;
    }
    if (!ok) {
      // Plain-HTTP deployments have no async clipboard: copy through a hidden textarea instead.
      const area = el("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
      area.value = text;
      document.body.append(area);
      area.select();
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      area.remove();
    }
    btn.textContent = ok ? t("copied") : t("copy_failed");
    btn.classList.toggle("done", ok);
    window.setTimeout(() => {
      btn.textContent = t("copy");
      btn.classList.remove("done");
    }, 1800);
  }

  // ------------------------------------------------------------ feedback

  function feedbackBar(turn) {
    const fb = turn.feedback;
    const bar = el("div", { class: "feedback" });
    bar.append(el("span", { class: "fb-q", text: t("feedback_question") }));
    for (const [rating, label] of [["up", t("helpful")], ["down", t("not_helpful")]]) {
      const thumb = button("", "thumb", () => sendFeedback(turn, rating, null), {
        "aria-pressed": fb.rating === rating ? "true" : "false",
        "aria-label": label,
        title: label,
        "data-rating": rating,
      });
      thumb.append(icon(rating));
      bar.append(thumb);
    }
    const note = { thanks: t("thanks"), saved: t("comment_saved"), failed: t("feedback_failed") }[fb.status] || "";
    bar.append(el("span", { class: "fb-status" + (fb.status === "failed" ? " bad" : ""), role: "status", text: note }));
    if (fb.rating) {
      const area = el("textarea", { class: "fb-text", rows: "2", maxlength: "2000", placeholder: t("comment_placeholder"), "aria-label": t("comment_placeholder") });
      area.value = fb.comment;
      area.addEventListener("input", () => (fb.comment = area.value));
      const commentForm = el("form", { class: "fb-comment" }, area, el("button", { type: "submit", class: "small", text: t("comment_send") }));
      commentForm.addEventListener("submit", (ev) => {
        ev.preventDefault();
        sendFeedback(turn, fb.rating, area.value);
      });
      bar.append(commentForm);
    }
    return bar;
  }

  async function sendFeedback(turn, rating, comment) {
    const answer = turn.answer;
    const fb = turn.feedback;
    const focusRating = comment === null;
    fb.rating = rating;
    if (comment !== null) fb.comment = comment;
    const body = {
      ask_id: answer.ask_id,
      rating,
      comment: (fb.comment || "").slice(0, 2000),
      question: turn.question,
      resolved_question: (answer.resolved_question || "").slice(0, 2000),
      answer: answer.answer.slice(0, 20000),
      found: answer.found,
      quote_ids: answer.quotes.map((q) => q.paragraph_id).slice(0, 20),
      speaker: turn.speaker,
      language: answer.language,
      latency_ms: turn.latency != null ? Math.round(turn.latency * 10) / 10 : null,
      server_ms: answer.timings_ms ? answer.timings_ms.total : null,
      generation: answer.generation,
    };
    try {
      const response = await fetch("/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      fb.status = response.ok ? (comment !== null ? "saved" : "thanks") : "failed";
    } catch (e) {
      fb.status = "failed";
    }
    renderTurn(turn);
    const selector = focusRating ? '.thumb[data-rating="' + rating + '"]' : ".fb-text";
    const target = turn.node.querySelector(selector);
    if (target) target.focus();
  }

  // ------------------------------------------------------------ the full speech in a side panel

  async function openSpeech(q, opener) {
    panelOpener = opener || null;
    // A speech opens the speaker's whole speech; anything else (a report, an interview) the whole document.
    const key = q.kind === "speech" ? q.speaker : q.document;
    panel.dataset.key = key;
    panel.dataset.target = q.paragraph_id;
    panel.dataset.start = String(q.start);
    panel.dataset.end = String(q.end);
    panel.dataset.text = q.text;
    panel.hidden = false;
    document.body.classList.add("panel-open");
    await loadPanel();
  }

  function reopenPanel() {
    loadPanel();
  }

  async function loadPanel() {
    const request = ++panelRequest;
    const key = panel.dataset.key;
    panelSub.textContent = "";
    panelBody.replaceChildren(el("p", { class: "muted", text: t("loading") }));
    let data = null;
    try {
      const response = await fetch("/speeches/" + encodeURIComponent(key), { headers: { Accept: "application/json" } });
      data = response.ok ? await response.json() : null;
    } catch (e) {
      data = null;
    }
    if (request !== panelRequest || panel.hidden) return;
    if (!data) {
      panelBody.replaceChildren(el("p", { class: "error-text", text: t("not_found_speech") }));
      return;
    }
    renderSpeech(data);
  }

  function renderSpeech(data) {
    const english = state.lang === "en";
    const target = panel.dataset.target;
    if (data.speaker) {
      const name = english && data.speaker_en ? data.speaker_en + " (" + data.speaker + ")" : data.speaker;
      const title = data.paragraphs.length ? data.paragraphs[0].title : data.speaker_title;
      panelSub.textContent = [name, data.speaker_title || title, english && data.organization_en ? data.organization_en : data.organization]
        .filter(Boolean)
        .join(english ? ", " : "，");
    } else {
      panelSub.textContent = data.title;
    }
    const docs = new Map((data.document_info || []).map((d) => [d.slug, d]));
    const body = [];
    let lastDoc = null;
    let lastHeadline = null;
    let targetNode = null;
    for (const p of data.paragraphs) {
      if (p.document !== lastDoc) {
        const d = docs.get(p.document);
        if (d) body.push(el("p", { class: "panel-doc", text: sourceText(d) }));
        lastDoc = p.document;
        lastHeadline = null;
      }
      if (p.headline && p.headline !== lastHeadline) {
        body.push(el("h3", { class: "panel-headline", lang: "zh-CN", text: p.headline }));
        lastHeadline = p.headline;
      }
      const para = el("p", { class: "para", id: "para-" + p.id, lang: "zh-CN", "data-paragraph-id": p.id });
      if (p.id === target) {
        para.classList.add("target");
        const [before, middle, after] = splitAt(p.text, Number(panel.dataset.start), Number(panel.dataset.end), panel.dataset.text);
        para.append(before, el("mark", { text: middle }), after);
        targetNode = para;
      } else {
        para.textContent = p.text;
      }
      body.push(para);
    }
    panelBody.replaceChildren(...body);
    if (targetNode) {
      targetNode.scrollIntoView({ block: "center" });
    }
    panelBody.focus({ preventScroll: true });
  }

  function closePanel() {
    if (panel.hidden) return;
    panel.hidden = true;
    panelRequest++;
    delete panel.dataset.key;
    document.body.classList.remove("panel-open");
    if (panelOpener && document.body.contains(panelOpener)) panelOpener.focus();
    panelOpener = null;
  }

  // ------------------------------------------------------------ the question box

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 220) + "px";
  }

  function updateCount(force) {
    const n = Array.from(input.value).length;
    const left = LIMITS.question - n;
    if (left < 0 || force === true) {
      count.textContent = t("too_long", { n: LIMITS.question });
      count.classList.add("bad");
    } else if (left <= 200) {
      count.textContent = t("chars_left", { n: left });
      count.classList.remove("bad");
    } else {
      count.textContent = "";
      count.classList.remove("bad");
    }
  }

  input.addEventListener("keydown", (ev) => {
    // Enter sends, Shift+Enter breaks the line; Enter that confirms an IME candidate does neither.
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      ask(input.value);
    }
  });
  input.addEventListener("input", () => {
    autoGrow();
    updateCount();
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ask(input.value);
  });
  $("new-chat").addEventListener("click", newConversation);
  $("lang-switch").addEventListener("click", () => setLanguage(state.lang === "zh" ? "en" : "zh"));
  $("panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !panel.hidden) {
      ev.preventDefault();
      closePanel();
    }
  });

  window.addEventListener("resize", autoGrow);

  applyStrings();
  autoGrow();
  updateWelcome();
  loadSpeakers(0);
  input.focus();
})();
