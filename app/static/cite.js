// Citations of a quote in three formats (plain line, GB/T 7714-2015, APA 7) and a conversation as Markdown.
// Pure functions of the answer JSON: nothing here touches the DOM. Fields a document lacks (year, 版次, url)
// are left out, never guessed: a date without a year stays as printed in GB/T and is "n.d." in APA.
"use strict";

window.RagCite = (function () {
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];

  // {year, month, day} from the document's date and year fields; any part may be null.
  function dateParts(doc) {
    const raw = String(doc.date || "");
    let year = null;
    let month = null;
    let day = null;
    const full = raw.match(/(\d{4})\s*[-年./]\s*(\d{1,2})\s*[-月./]\s*(\d{1,2})/);
    const monthDay = raw.match(/(\d{1,2})\s*月\s*(\d{1,2})\s*日/);
    if (full) [year, month, day] = [Number(full[1]), Number(full[2]), Number(full[3])];
    else if (monthDay) [month, day] = [Number(monthDay[1]), Number(monthDay[2])];
    if (!year && doc.year) year = Number(doc.year);
    return { year, month, day };
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  // 2024-09-30 when the year is known; otherwise the date as the document prints it.
  function isoDate(doc) {
    const d = dateParts(doc);
    if (d.year && d.month && d.day) return d.year + "-" + pad(d.month) + "-" + pad(d.day);
    if (d.year && !doc.date) return String(d.year);
    return String(doc.date || "");
  }

  // 30 September (2024), for English text.
  function englishDate(doc) {
    const d = dateParts(doc);
    if (!d.month || !d.day) return d.year ? String(d.year) : String(doc.date || "");
    return d.day + " " + MONTHS[d.month - 1] + (d.year ? " " + d.year : "");
  }

  function sourceName(doc, english) {
    return english ? doc.source_en || doc.source : doc.source;
  }

  // [1] 题名[N]. 湖南日报, 2024-09-30(4). URL   (the article has no named author, so none is given)
  function gbtReference(n, doc, english) {
    const source = sourceName(doc, english);
    const type = source ? "N" : doc.url ? "EB/OL" : "Z";
    let line = "[" + n + "] " + doc.title + "[" + type + "]";
    const where = [];
    if (source) where.push(source);
    const date = isoDate(doc);
    if (date) where.push(date + (doc.page ? "(" + doc.page + ")" : ""));
    else if (doc.page) where.push("(" + doc.page + ")");
    if (where.length) line += ". " + where.join(", ");
    line += ".";
    if (doc.url) line += " " + doc.url + ".";
    return line;
  }

  // Title. (2024, September 30). Hunan Daily, p. 4. URL
  function apaReference(doc, english) {
    const d = dateParts(doc);
    let when = "n.d.";
    if (d.year) when = d.year + (d.month && d.day ? ", " + MONTHS[d.month - 1] + " " + d.day : "");
    let line = doc.title + ". (" + when + ").";
    const source = sourceName(doc, english);
    if (source) line += " " + source + (doc.page ? ", p. " + doc.page : "") + ".";
    else if (doc.page) line += " p. " + doc.page + ".";
    if (doc.url) line += " " + doc.url;
    return line;
  }

  // The words in quotation marks, or — reported speech — as reported and never as the speaker's words.
  function quotedWords(q, ctx) {
    if (q.attribution === "reported") {
      return ctx.english
        ? ctx.reportedBy(q) + ": " + q.text + " (" + ctx.t("reported_note") + ")"
        : ctx.reportedBy(q) + "：" + q.text + "（" + ctx.t("reported_note") + "）";
    }
    return "“" + q.text + "”";
  }

  // The quoted words and who said them, as the reference list's entry `n` is cited (GB/T: [n] after it).
  function quotedLine(format, q, n, ctx) {
    if (format === "gbt") return quotedWords(q, ctx) + (ctx.english ? " — " : "——") + ctx.who(q) + "[" + n + "]";
    return quotedWords(q, ctx) + " — " + ctx.who(q);
  }

  // One quote in `format` (plain | gbt | apa), numbered `n` in its answer. `ctx` gives the page's
  // language and its attribution helpers (who said it, how reported speech is introduced).
  function cite(format, q, doc, n, ctx) {
    if (format === "gbt") return quotedLine(format, q, n, ctx) + "\n" + gbtReference(n, doc, ctx.english);
    if (format === "apa") return quotedLine(format, q, n, ctx) + "\n" + apaReference(doc, ctx.english);
    return ctx.plain(q);
  }

  // Every quote of an answer: the quoted lines, then the reference list (APA's is unnumbered, one per document).
  function citeAll(format, quotes, docOf, ctx) {
    if (format === "plain") return quotes.map((q, i) => "[" + (i + 1) + "] " + ctx.plain(q)).join("\n");
    const lines = quotes.map((q, i) => quotedLine(format, q, i + 1, ctx));
    const refs = quotes.map((q, i) => (format === "gbt" ? gbtReference(i + 1, docOf(q), ctx.english) : apaReference(docOf(q), ctx.english)));
    return lines.join("\n") + "\n\n" + (format === "apa" ? Array.from(new Set(refs)) : refs).join("\n");
  }

  return { cite, citeAll, gbtReference, apaReference, isoDate, englishDate, dateParts };
})();
