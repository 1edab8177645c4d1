// Conversations kept in this browser's localStorage (nothing is sent anywhere): each is
// {id, created, updated, turns: [{question, speaker, answer, latency, feedback, open}]}, newest first.
// Storage may be disabled or full: then the page still works, it only forgets on reload.
"use strict";

window.RagStore = (function () {
  const KEY = "rag.conversations";
  const CURRENT = "rag.current";
  const MAX_CONVERSATIONS = 50;

  function read() {
    try {
      const data = JSON.parse(window.localStorage.getItem(KEY) || "[]");
      return Array.isArray(data) ? data.filter((c) => c && typeof c.id === "string" && Array.isArray(c.turns)) : [];
    } catch (e) {
      return [];
    }
  }

  function write(list) {
    // When the browser's quota is full, the oldest conversations give way.
    for (let keep = list.length; keep >= 0; keep--) {
      try {
        window.localStorage.setItem(KEY, JSON.stringify(list.slice(0, keep)));
        return true;
      } catch (e) {
        if (keep === 0) return false;
      }
    }
    return false;
  }

  function list() {
    return read().sort((a, b) => (b.updated || 0) - (a.updated || 0));
  }

  function get(id) {
    return read().find((c) => c.id === id) || null;
  }

  function save(conversation) {
    const others = read().filter((c) => c.id !== conversation.id);
    write([conversation, ...others].slice(0, MAX_CONVERSATIONS));
  }

  function remove(id) {
    write(read().filter((c) => c.id !== id));
    if (current() === id) setCurrent(null);
  }

  function clear() {
    try {
      window.localStorage.removeItem(KEY);
      window.localStorage.removeItem(CURRENT);
    } catch (e) {
      /* nothing stored */
    }
  }

  function current() {
    try {
      return window.localStorage.getItem(CURRENT);
    } catch (e) {
      return null;
    }
  }

  function setCurrent(id) {
    try {
      if (id) window.localStorage.setItem(CURRENT, id);
      else window.localStorage.removeItem(CURRENT);
    } catch (e) {
      /* not remembered */
    }
  }

  function newId() {
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
  }

  return { list, get, save, remove, clear, current, setCurrent, newId };
})();
