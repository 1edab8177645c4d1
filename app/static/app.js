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
    conversationId: null, // the saved conversation these turns belong to (browser storage)
    citeFormat: loadSetting("rag.cite", ["plain", "gbt", "apa"], "plain"),
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

  // ------------------------------------------------------------ settings kept in this browser

  function loadSetting(key, allowed, fallback) {
    try {
      const saved = window.localStorage.getItem(key);
      if (allowed.includes(saved)) return saved;
    } catch (e) {
      /* storage may be disabled */
    }
    return fallback;
  }

  function saveSetting(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (e) {
      /* not remembered */
    }
  }

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

  // A speaker the question names who is not the selected chip's: the filter then contradicts the question.
  function otherSpeakerNamed(question, chip) {
    const text = question.toLowerCase();
    return state.speakers.find((s) => s.name !== chip && [s.name, s.name_en].some((n) => n && text.includes(n.toLowerCase()))) || null;
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
      list.append(el("li", null, button(q, "example", () => {
        ask(q);
        input.focus(); // the example list goes away with the welcome: the question box keeps the focus
      })));
    }
  }

  function updateWelcome() {
    welcome.hidden = state.turns.length > 0;
    document.body.classList.toggle("has-turns", state.turns.length > 0);
  }

  // ------------------------------------------------------------ asking

  function historyFor(turn) {
    // Earlier answered turns, most recent last, trimmed to fit the server's body limit.
    const earlier = state.turns.filter((x) => x.id < turn.id && x.answer).slice(-LIMITS.history);
    // A follow-up's resolved form ("他还说了什么？" → the topic it continues) keeps a chain of follow-ups on topic.
    const history = earlier.map((x) => {
      const h = {
        question: (x.answer.resolved_question || x.question).slice(0, LIMITS.question),
        answer: x.answer.answer,
        speakers: x.answer.speakers.slice(0, 20),
      };
      // The ids of the quotes a turn showed (servers whose quotes carry an `id`), so follow-ups never repeat one.
      const shown = (x.answer.quotes || []).map((q) => q.id).filter(Boolean).slice(0, 50);
      if (shown.length) h.quotes = shown;
      return h;
    });
    const budget = Math.max(1024, LIMITS.body - 4096);
    const size = () => new TextEncoder().encode(JSON.stringify(history)).length + turn.question.length * 3;
    for (let i = 0; i < history.length - 1 && size() > budget; i++) history[i].answer = null;
    while (history.length > 1 && size() > budget) history.shift();
    return history;
  }

  function newTurn(fields) {
    return Object.assign(
      {
        id: state.nextId++,
        question: "",
        speaker: null,
        status: "done",
        answer: null,
        error: null,
        latency: null,
        feedback: { rating: null, comment: "", status: null },
        open: new Set(), // paragraph ids whose whole paragraph is shown
        moreOpen: false,
        node: null,
      },
      fields,
    );
  }

  function ask(question) {
    const q = (question || "").trim();
    if (!q || state.pending) return;
    if (Array.from(q).length > LIMITS.question) {
      updateCount(true);
      return;
    }
    if (!state.conversationId) state.conversationId = RagStore.newId();
    const turn = newTurn({ question: q, speaker: state.speaker, status: "pending" });
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
    announce(turn);
    persist();
    turn.node.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  // Only the new answer is read out (the conversation itself is not a live region).
  function announce(turn) {
    const live = $("announcer");
    const a = turn.answer;
    let text = turn.status === "error" ? t("error_title") + ": " + turn.error : "";
    if (a) text = a.found ? a.quotes.map((q) => displayName(q) + colon() + q.text).slice(0, 1).join("") : t("not_found_title");
    live.textContent = "";
    window.setTimeout(() => (live.textContent = text), 50);
  }

  function errorMessage(status, data) {
    if (status === 413) return t("error_too_large");
    if (status === 429 || (status === 503 && data && /busy/i.test(data.detail || ""))) return t("error_busy");
    if (status === 503) return t("error_loading");
    if ((status === 400 || status === 422) && data && data.detail) return String(data.detail);
    return t("error_server");
  }

  function clearScreen() {
    if (state.pending && state.pending.controller) state.pending.controller.abort();
    state.pending = null;
    sendButton.disabled = false;
    for (const turn of state.turns) if (turn.node) turn.node.remove();
    state.turns = [];
    state.conversationId = null;
    closePanel();
  }

  function newConversation() {
    clearScreen();
    RagStore.setCurrent(null);
    updateWelcome();
    renderHistory();
    input.focus();
  }

  // ------------------------------------------------------------ saved conversations

  function savedTurn(turn) {
    return {
      question: turn.question,
      speaker: turn.speaker,
      answer: turn.answer,
      latency: turn.latency,
      feedback: { rating: turn.feedback.rating, comment: turn.feedback.comment },
      open: Array.from(turn.open),
    };
  }

  function persist() {
    const done = state.turns.filter((x) => x.status === "done" && x.answer);
    if (!state.conversationId || !done.length) return;
    const old = RagStore.get(state.conversationId);
    RagStore.save({
      id: state.conversationId,
      created: old ? old.created : Date.now(),
      updated: Date.now(),
      turns: done.map(savedTurn),
    });
    RagStore.setCurrent(state.conversationId);
    renderHistory();
  }

  function restore(conversation) {
    clearScreen();
    state.conversationId = conversation.id;
    for (const saved of conversation.turns) {
      if (!saved || !saved.answer || typeof saved.question !== "string") continue;
      const turn = newTurn({
        question: saved.question,
        speaker: saved.speaker || null,
        answer: saved.answer,
        latency: saved.latency,
        feedback: { rating: (saved.feedback && saved.feedback.rating) || null, comment: (saved.feedback && saved.feedback.comment) || "", status: null },
        open: new Set(saved.open || []),
      });
      state.turns.push(turn);
      renderTurn(turn);
    }
    RagStore.setCurrent(conversation.id);
    updateWelcome();
    renderHistory();
  }

  function formatWhen(ms) {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function renderHistory() {
    const all = RagStore.list();
    $("history-toggle").textContent = t("history", { n: all.length });
    const list = $("history-list");
    list.replaceChildren();
    $("history-empty").hidden = all.length > 0;
    $("history-clear").hidden = all.length === 0;
    for (const c of all) {
      const first = c.turns[0] ? c.turns[0].question : "";
      const current = c.id === state.conversationId;
      const open = button(first, "history-open", () => {
        restore(c);
        $("history").hidden = true;
        $("history-toggle").setAttribute("aria-expanded", "false");
        input.focus();
      }, { "aria-current": current ? "true" : null, title: first });
      const del = button(t("delete"), "small", () => {
        RagStore.remove(c.id);
        if (current) newConversation();
        renderHistory();
        const next = $("history-list").querySelector("button");
        (next || $("history-toggle")).focus();
      }, { "aria-label": t("delete_conversation", { q: first.slice(0, 40) }) });
      list.append(el("li", { class: current ? "current" : null }, open, el("span", { class: "history-when", text: t("turns", { n: c.turns.length }) + " · " + formatWhen(c.updated) }), del));
    }
  }

  function toggleHistory() {
    const box = $("history");
    box.hidden = !box.hidden;
    $("history-toggle").setAttribute("aria-expanded", box.hidden ? "false" : "true");
    if (!box.hidden) renderHistory();
  }

  function clearAll() {
    RagStore.clear();
    newConversation();
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
      el("h2", { class: "q-text" + (Array.from(turn.question).length > 160 ? " long" : ""), text: turn.question }),
    );
    if (Array.from(turn.question).length > 160) {
      const expand = button(t("show_all"), "small q-more", () => {
        const long = q.querySelector(".q-text").classList.toggle("long");
        expand.textContent = long ? t("show_all") : t("show_less");
        expand.setAttribute("aria-expanded", long ? "false" : "true");
      }, { "aria-expanded": "false" });
      q.append(expand);
    }
    if (turn.speaker) {
      const s = state.speakers.find((x) => x.name === turn.speaker);
      q.append(el("span", { class: "q-filter", text: t("only_speaker", { name: s ? speakerLabel(s) : turn.speaker }) }));
      const named = otherSpeakerNamed(turn.question, turn.speaker);
      if (named) {
        q.append(el("span", { class: "q-conflict", role: "note", text: t("speaker_conflict", { named: speakerLabel(named), chip: s ? speakerLabel(s) : turn.speaker }) }));
      }
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

  // Notes on how the question was answered (a speaker filter the question contradicts), said before the answer.
  function notesNode(answer) {
    const notes = answer.notes || [];
    return notes.length ? el("div", { class: "answer-notes", role: "note" }, ...notes.map((n) => el("p", { text: n }))) : null;
  }

  // "王杰是谁？": who the speaker is, and the page's own speaker line as the source (not a quote of a speech).
  function renderProfile(turn, answer) {
    const p = answer.profile;
    const name = state.lang === "en" && p.speaker_en ? p.speaker_en + " (" + p.speaker + ")" : p.speaker;
    const role = state.lang === "en"
      ? [p.title_en || p.title, p.organization_en || p.organization].filter(Boolean).join(", ")
      : [p.organization, p.title].filter(Boolean).join("");
    const box = el("div", { class: "a found profile" },
      el("p", { class: "lead", text: name + (role ? (state.lang === "en" ? ": " : "，") + role : "") }),
      el("p", { class: "profile-source-label", text: t("profile_source") }),
      el("p", { class: "profile-line", text: p.source_line + (p.source ? " — " + (state.lang === "en" ? p.source_en || p.source : p.source) : "") }),
    );
    box.append(meta(answer, turn), feedbackBar(turn));
    return box;
  }

  function renderFound(turn, answer) {
    if (answer.intent === "profile" && answer.profile) return renderProfile(turn, answer);
    const box = el("div", { class: "a found" });
    const notes = notesNode(answer);
    if (notes) box.append(notes);
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
        for (const q of group) section.append(card(q, answer, { grouped: true, turn }));
        box.append(section);
      }
    } else {
      if (answer.intent === "who") box.append(el("p", { class: "lead", text: t("lead_who", { name: displayName(quotes[0]) }) }));
      if (answer.intent === "more") box.append(el("p", { class: "lead", text: t("lead_more", { name: displayName(quotes[0]) }) }));
      box.append(card(quotes[0], answer, { primary: true, turn }));
      if (quotes.length > 1) {
        const more = el("details", { class: "more", open: turn.moreOpen }, el("summary", { text: t("more_quotes", { n: quotes.length - 1 }) }));
        more.addEventListener("toggle", () => (turn.moreOpen = more.open));
        for (const q of quotes.slice(1)) more.append(card(q, answer, { turn }));
        box.append(more);
      }
    }
    box.append(citeBar(turn, answer), meta(answer, turn), feedbackBar(turn));
    return box;
  }

  // The library's own sentence when it says what is missing ("这篇报道没有提到…"), else the page's.
  function notFoundReason(answer) {
    const text = (answer.answer || "").trim();
    const generic = [STRINGS.zh.not_found_text, STRINGS.en.not_found_text];
    return text && !generic.includes(text) ? text : t("not_found_text");
  }

  function renderNotFound(turn, answer) {
    const box = el(
      "div",
      { class: "a notfound" },
      el(
        "div",
        { class: "nf-head" },
        el("span", { class: "nf-icon", "aria-hidden": "true", text: "∅" }),
        el("div", null, el("p", { class: "a-title", text: t("not_found_title") }), el("p", { class: "nf-why", text: notFoundReason(answer) })),
      ),
    );
    if (answer.closest && answer.closest.length) {
      const closest = el("details", { class: "closest" }, el("summary", { text: t("closest_toggle") }));
      for (const q of answer.closest) closest.append(card(q, answer, { closest: true, turn }));
      box.append(closest);
    }
    box.append(meta(answer, turn), feedbackBar(turn));
    return box;
  }

  function meta(answer, turn) {
    const box = el("div", { class: "meta" });
    const resolved = (answer.resolved_question || "").trim();
    if (resolved && resolved !== answer.question.trim() && answer.intent !== "more") {
      box.append(el("p", { class: "resolved", text: t("resolved_as", { q: resolved }) }));
    }
    const ms = Math.round(turn.latency != null ? turn.latency : answer.timings_ms.total);
    const timings = answer.timings_ms || {};
    const detail = ["embed", "search", "answer"].filter((k) => k in timings).map((k) => k + " " + timings[k] + " ms").join(", ");
    box.append(
      el(
        "details",
        { class: "dev" },
        el("summary", { text: t("details") }),
        el("p", { text: t("elapsed", { ms }) + (answer.cached ? t("cached") : "") + (detail ? " · " + detail : "") + " · " + answer.generation }),
      ),
    );
    return box;
  }

  // Copy every quote of the answer, numbered as its cards, in the chosen citation format.
  function citeBar(turn, answer) {
    const bar = el("div", { class: "cite-bar" });
    const id = "fmt-" + turn.id;
    const select = el("select", { id, class: "cite-format" });
    for (const [value, key] of [["plain", "format_plain"], ["gbt", "format_gbt"], ["apa", "format_apa"]]) {
      select.append(el("option", { value, text: t(key), selected: state.citeFormat === value }));
    }
    select.addEventListener("change", () => {
      state.citeFormat = select.value;
      saveSetting("rag.cite", select.value);
      for (const s of document.querySelectorAll(".cite-format")) s.value = select.value;
    });
    const quotes = answer.quotes;
    const all = button(t("copy_all"), "small copy-all", () =>
      copyText(RagCite.citeAll(state.citeFormat, quotes, (q) => documentFor(q, answer), citeContext(answer)), all, t("copy_all")),
    );
    bar.append(el("label", { for: id, text: t("cite_format") }), select);
    if (quotes.length) bar.append(all);
    return bar;
  }

  function citeContext(answer) {
    return {
      english: state.lang === "en",
      t,
      reportedBy,
      who: (q) => whoLine(q),
      plain: (q) => citation(q, answer),
    };
  }

  function quoteNumber(q, answer) {
    const list = answer.found ? answer.quotes : answer.closest;
    return list.indexOf(q) + 1;
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
    const page = doc.page ? (state.lang === "en" ? "p. " + doc.page : t("edition", { n: doc.page })) : "";
    if (state.lang === "en") {
      return [doc.source_en || doc.source, doc.title ? "“" + doc.title + "”" : "", doc.date ? RagCite.englishDate(doc) : "", page].filter(Boolean).join(", ");
    }
    const date = (doc.year && doc.date && !/\d{4}/.test(doc.date) ? doc.year + "年" : "") + (doc.date || (doc.year ? doc.year + "年" : ""));
    return [doc.source, doc.title ? "《" + doc.title + "》" : "", date, page].filter(Boolean).join("，");
  }

  // Speaker (English form first in the English UI), title, organisation.
  function whoLine(q) {
    const english = state.lang === "en";
    const name = isDocumentVoice(q) ? displayName(q) : english && q.speaker_en ? q.speaker_en + " (" + q.speaker + ")" : q.speaker;
    return [name, ...roleParts(q, english)].filter(Boolean).join(english ? ", " : "，");
  }

  // What the copy button copies: own words in quotation marks; reported speech as reported, never quoted.
  function citation(q, answer) {
    const english = state.lang === "en";
    const doc = sourceText(documentFor(q, answer)) + (q.page ? (english ? ", " : "，") + t("page", { n: q.page }) : "");
    const who = whoLine(q);
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
        readable(el("p", { class: "reported-text", lang: "zh-CN", text: q.text }), q.text),
        el("p", { class: "reported-note", text: t("reported_note") }),
      );
    }
    return el("blockquote", { class: "excerpt", lang: "zh-CN" }, readable(el("p", { text: q.text }), q.text));
  }

  // ------------------------------------------------------------ the reading aid: pinyin and dictionary glosses

  // The first time a pointer or focus reaches the quote, its words are fetched from /glosses and wrapped in
  // spans (the text itself is unchanged); hovering or tapping a word then shows its pinyin and glosses.
  function readable(node, text) {
    let loading = null;
    const load = () => {
      if (!loading) loading = segment(node, text);
      return loading;
    };
    node.classList.add("readable");
    node.addEventListener("pointerenter", load);
    node.addEventListener("focusin", load);
    node.addEventListener("pointerover", (ev) => {
      const word = ev.target.closest(".w");
      if (word && ev.pointerType === "mouse") showGloss(word);
    });
    node.addEventListener("click", async (ev) => {
      await load();
      const word = ev.target.closest(".w");
      if (word) showGloss(word);
    });
    node.addEventListener("keydown", (ev) => {
      const word = ev.target.closest(".w");
      if (word && (ev.key === "Enter" || ev.key === " ")) {
        ev.preventDefault();
        showGloss(word);
      }
      // One tab stop per quote; the arrow keys move between its words.
      const words = Array.from(node.querySelectorAll(".w"));
      const step = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (word && step) {
        ev.preventDefault();
        const next = words[Math.max(0, Math.min(words.length - 1, words.indexOf(word) + step))];
        word.tabIndex = -1;
        next.tabIndex = 0;
        next.focus();
        showGloss(next);
      }
    });
    return node;
  }

  async function segment(node, text) {
    let data = null;
    try {
      const response = await fetch("/glosses?text=" + encodeURIComponent(text.slice(0, 2000)), { headers: { Accept: "application/json" } });
      data = response.ok ? await response.json() : null;
    } catch (e) {
      data = null;
    }
    if (!data || !data.words.length || node.dataset.segmented) return;
    const chars = Array.from(text);
    const parts = [];
    let at = 0;
    data.words.forEach((w, i) => {
      if (w.start > at) parts.push(chars.slice(at, w.start).join(""));
      const span = el("span", { class: "w", tabindex: i === 0 ? "0" : "-1", "data-word": w.word, text: w.word });
      span.gloss = w;
      parts.push(span);
      at = w.start + Array.from(w.word).length;
    });
    if (at < chars.length) parts.push(chars.slice(at).join(""));
    const same = parts.map((x) => (typeof x === "string" ? x : x.textContent)).join("") === text;
    if (!same) return; // the quote is verbatim: never show it other than exactly as printed
    node.replaceChildren(...parts);
    node.dataset.segmented = "1";
  }

  function showGloss(word) {
    const w = word.gloss;
    const box = $("gloss");
    const body = [el("p", { class: "g-word", lang: "zh-CN", text: w.word })];
    if (w.name_forms.length) body.push(el("p", { class: "g-name", text: t("gloss_name") + colon() + w.name_forms.join(" · ") }));
    for (const r of w.readings.slice(0, 3)) {
      body.push(el("p", { class: "g-reading" }, el("span", { class: "g-pinyin", text: r.pinyin }), " ", el("span", { lang: "en", text: r.glosses.join("; ") })));
    }
    if (!w.readings.length && !w.name_forms.length) body.push(el("p", { class: "muted", text: t("gloss_none") }));
    body.push(el("p", { class: "g-note", text: t("gloss_note") }));
    box.replaceChildren(...body);
    box.hidden = false;
    for (const other of document.querySelectorAll(".w.on")) other.classList.remove("on");
    word.classList.add("on");
    const rect = word.getBoundingClientRect();
    const width = Math.min(320, window.innerWidth - 16);
    box.style.width = width + "px";
    box.style.left = Math.max(8, Math.min(rect.left, window.innerWidth - width - 8)) + "px";
    const below = rect.bottom + 6;
    box.style.top = (below + box.offsetHeight > window.innerHeight ? Math.max(8, rect.top - box.offsetHeight - 6) : below) + "px";
  }

  function hideGloss() {
    $("gloss").hidden = true;
    for (const other of document.querySelectorAll(".w.on")) other.classList.remove("on");
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
    const n = quoteNumber(q, answer);
    node.append(el("span", { class: "ref-n", text: "[" + n + "]", "aria-label": t("reference_n", { n }) }));
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
      const wasOpen = opts.turn && opts.turn.open.has(q.paragraph_id);
      const context = el("div", { class: "context", id: contextId, lang: "zh-CN", hidden: !wasOpen }, el("p", null, before, el("mark", { text: middle }), after));
      const toggle = button(wasOpen ? t("hide_paragraph") : t("show_paragraph"), "small", () => {
        const open = context.hidden;
        context.hidden = !open;
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
        toggle.textContent = open ? t("hide_paragraph") : t("show_paragraph");
        if (opts.turn) {
          if (open) opts.turn.open.add(q.paragraph_id);
          else opts.turn.open.delete(q.paragraph_id);
          persist();
        }
      }, { "aria-expanded": wasOpen ? "true" : "false", "aria-controls": contextId, "data-action": "paragraph" });
      node.append(context);
      actions.append(toggle);
    }
    actions.append(button(t("open_speech"), "small", (ev) => openSpeech(q, ev.currentTarget)));
    const copy = button(t("copy"), "small copy", () => copyText(RagCite.cite(state.citeFormat, q, documentFor(q, answer), n, citeContext(answer)), copy, t("copy")));
    actions.append(copy);
    node.append(actions);
    return node;
  }

  async function copyText(text, btn, label) {
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
      btn.textContent = label;
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
    persist();
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

  // ------------------------------------------------------------ export and print

  function todayIso() {
    const d = new Date();
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }

  // Markdown-escaped text: emphasis, code, HTML and link markup stay literal characters.
  function mdText(text) {
    return String(text).replace(/([\\`*_<>|])/g, "\\$1").replace(/\]\(/g, "]\\(").replace(/^#/, "\\#").replace(/\n+/g, " ");
  }

  function conversationMarkdown() {
    const out = ["# " + t("title") + " — " + t("conversation"), "", t("exported_on", { date: todayIso() }), ""];
    state.turns.forEach((turn, i) => {
      if (!turn.answer) return;
      const a = turn.answer;
      out.push("## " + (i + 1) + ". " + mdText(turn.question), "");
      const resolved = (a.resolved_question || "").trim();
      if (resolved && resolved !== a.question.trim() && a.intent !== "more") out.push("*" + mdText(t("resolved_as", { q: resolved })) + "*", "");
      const quotes = a.found ? a.quotes : a.closest;
      if (!a.found) out.push("**" + t("not_found_title") + "** " + t("not_found_text"), "");
      if (!a.found && quotes.length) out.push(t("closest_toggle") + ":", "");
      const ctx = citeContext(a);
      quotes.forEach((q, k) => {
        if (q.context) out.push("> " + mdText((q.context_by ? t("asked_by", { who: q.context_by }) : t("question_label")) + colon() + q.context), ">");
        const words = q.attribution === "reported" ? reportedBy(q) + colon() + q.text + " (" + t("reported_note") + ")" : "“" + q.text + "”";
        out.push("> [" + (k + 1) + "] " + mdText(words), ">", "> —— " + mdText(whoLine(q)) + "  ", "> " + t("source") + colon() + mdText(sourceText(documentFor(q, a))), "");
      });
      if (quotes.length) {
        out.push("**" + t("references") + "**", "");
        quotes.forEach((q, k) => out.push(mdText(RagCite.gbtReference(k + 1, documentFor(q, a), ctx.english)) + "  "));
        out.push("");
      }
    });
    return out.join("\n");
  }

  function exportMarkdown() {
    const blob = new Blob([conversationMarkdown()], { type: "text/markdown;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: "conversation-" + todayIso() + ".md", class: "offscreen" });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // Printing shows every turn in full: folded quotes and paragraphs open for the printout, then fold back.
  let unfolded = [];
  window.addEventListener("beforeprint", () => {
    unfolded = Array.from(document.querySelectorAll(".conversation details:not([open]):not(.dev)"));
    for (const d of unfolded) d.open = true;
  });
  window.addEventListener("afterprint", () => {
    for (const d of unfolded) d.open = false;
    unfolded = [];
  });

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
  $("history-toggle").addEventListener("click", toggleHistory);
  $("history-clear").addEventListener("click", clearAll);
  $("export-md").addEventListener("click", exportMarkdown);
  $("print").addEventListener("click", () => window.print());
  $("lang-switch").addEventListener("click", () => setLanguage(state.lang === "zh" ? "en" : "zh"));
  $("panel-close").addEventListener("click", closePanel);
  document.addEventListener("pointerdown", (ev) => {
    if (!ev.target.closest(".w, #gloss")) hideGloss();
  });
  conversation.addEventListener("scroll", hideGloss, { passive: true });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("gloss").hidden) {
      hideGloss();
      return;
    }
    if (ev.key === "Escape" && !panel.hidden) {
      ev.preventDefault();
      closePanel();
    }
  });

  window.addEventListener("resize", autoGrow);

  // A server-rendered answer (GET /?question=…, the form without JavaScript) becomes the first turn of a new
  // conversation; a link /?q=… asks its question; otherwise the conversation open before reload comes back.
  function start() {
    const params = new URLSearchParams(window.location.search);
    const served = $("server-answer");
    const shared = params.get("q");
    if (served) {
      const data = JSON.parse(served.textContent);
      for (const node of document.querySelectorAll(".server-turn")) node.remove();
      state.conversationId = RagStore.newId();
      state.speaker = data.speaker || null;
      const turn = newTurn({ question: data.question, speaker: data.speaker || null, answer: data.answer });
      state.turns.push(turn);
      renderTurn(turn);
      persist();
      window.history.replaceState(null, "", "/");
    } else if (shared && shared.trim()) {
      window.history.replaceState(null, "", "/");
      ask(shared);
    } else {
      const saved = RagStore.current() && RagStore.get(RagStore.current());
      if (saved) restore(saved);
    }
  }

  document.body.classList.add("js");
  applyStrings();
  autoGrow();
  start();
  updateWelcome();
  renderHistory();
  loadSpeakers(0);
  input.focus();
})();
