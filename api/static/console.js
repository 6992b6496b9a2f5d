// hotline consoles: a JSON form encoding for htmx (empty fields are sent as null), the outcome of a
// change shown in #flash, the running timers (time in state, wrap-up left) and the agent's live transcript
// (an EventSource on the call the desk names). No other script.
(function () {
  // An htmx extension that sends a form as a JSON body: ``encode(parameters, form)`` gives the object.
  window.hotlineJsonForm = function (encode) {
    return {
      onEvent: function (name, evt) {
        if (name === "htmx:configRequest") { evt.detail.headers["Content-Type"] = "application/json"; }
      },
      encodeParameters: function (xhr, parameters, elt) {
        xhr.overrideMimeType("text/json");
        return JSON.stringify(encode(parameters, elt.closest("form")));
      }
    };
  };

  htmx.defineExtension("json-form", hotlineJsonForm(function (parameters, form) {
    const body = {};
    for (const [key, value] of parameters.entries()) {
      const input = form ? form.elements[key] : null;
      if (input && input.dataset && "skip" in input.dataset) { continue; }
      body[key] = value === "" ? null : value;
    }
    return body;
  }));

  window.consoleDone = function (event, refresh) {
    const flash = document.getElementById("flash");
    const xhr = event.detail.xhr;
    if (event.detail.successful) {
      flash.className = "ok"; flash.textContent = "Saved.";
      if (refresh) { htmx.trigger(refresh, "refresh"); }
      const cases = document.getElementById("cases");
      if (cases) { htmx.trigger(cases, "refresh"); }
    } else {
      let detail = xhr.statusText;
      try {
        const body = JSON.parse(xhr.responseText);
        detail = typeof body.detail === "string" ? body.detail
          : body.detail.map(function (d) { return d.loc.slice(-1)[0] + ": " + d.msg; }).join("; ");
      } catch (e) { /* not JSON */ }
      flash.className = "error"; flash.textContent = xhr.status + " " + detail;
    }
  };

  // A SIP password set or removed from the admin's users section: the list is loaded again, and a new
  // password (in the answer of PUT /api/v1/users/{id}/sip-password, and nowhere else) is shown this once.
  window.sipPasswordDone = function (event) {
    const shown = document.getElementById("sip-password-shown");
    consoleDone(event, document.getElementById("user-list"));
    if (!event.detail.successful || !shown) { return; }
    let body = null;
    try { body = JSON.parse(event.detail.xhr.responseText); } catch (e) { /* not JSON */ }
    shown.replaceChildren();
    shown.hidden = !(body && body.password);
    if (shown.hidden) { return; }
    const text = document.createElement("p");
    text.textContent = "New SIP password of " + body.username + " (realm " + body.realm + "), shown this once: "
      + "enter it in the phone now. ";
    const code = document.createElement("code");
    code.id = "sip-password";
    code.textContent = body.password;
    text.append(code);
    shown.append(text);
  };

  // The pause form's reason: a usual one from the list, with the agent's own words after it, or only their
  // words for "other" (none: the API refuses the empty reason and #flash says so).
  window.pauseReason = function (event, form) {
    const choice = form.elements.reason_choice.value;
    const text = form.elements.reason_text.value.trim();
    event.detail.parameters.reason = choice === "other" ? text : (text ? choice + ": " + text : choice);
  };

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }
  // The server's clock minus this browser's, from the page's data-server-now (the instants come from the
  // server; a browser clock a minute off would otherwise show a wrap-up a minute off).
  let skew = 0;
  function serverNow() { return Date.now() + skew; }
  function tick() {
    document.querySelectorAll(".timer[data-since]").forEach(function (el) {
      el.textContent = clock((serverNow() - Date.parse(el.dataset.since)) / 1000);
    });
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      el.textContent = clock((Date.parse(el.dataset.until) - serverNow()) / 1000);
    });
  }

  // -- the live transcript of the agent's call ------------------------------------------------------------
  // The desk names the call to follow (data-follow-call: the call in progress, then in wrap-up the call
  // just ended). A new call id closes the old stream and opens one for it; the same id (every re-render of
  // the desk) changes nothing; no id leaves the last transcript on show. Finals are appended, each
  // speaker's partial line is replaced, and the stream is closed at "end". A new call also opens its case
  // in the case panel when no case is open there.
  let live = null;

  function line(segment, partial) {
    const li = document.createElement("li");
    li.className = segment.speaker + (partial ? " partial" : "");
    li.dataset.speaker = segment.speaker;
    const who = document.createElement("b");
    who.textContent = segment.speaker;
    li.append(who, " " + segment.text);
    return li;
  }

  function refreshCasePart(caseId, part, tries) {
    // Only that part of the case panel, so a form being filled in is left alone. The stored transcript
    // lands on the case a moment after "end": ask again while it is pending (at most a minute).
    if (!document.getElementById("case-" + caseId) || !document.getElementById(part)) { return; }
    htmx.ajax("GET", "/console/agent/cases/" + caseId, {target: "#" + part, select: "#" + part, swap: "outerHTML"})
      .then(function () {
        const left = tries === undefined ? 0 : tries;
        if (left > 0 && document.querySelector("#" + part + "[data-pending]")) {
          setTimeout(function () { refreshCasePart(caseId, part, left - 1); }, 1000);
        }
      });
  }

  function follow(callId, caseId) {
    if (live) { live.source.close(); }
    const list = document.getElementById("live-transcript");
    const status = document.getElementById("live-status");
    list.replaceChildren();
    status.textContent = "connecting";
    const source = new EventSource("/api/v1/calls/" + encodeURIComponent(callId) + "/transcript/live");
    const partials = {};
    live = {callId: callId, source: source};
    source.addEventListener("open", function () {
      list.replaceChildren();  // a reconnection replays the call from its start
      for (const speaker in partials) { delete partials[speaker]; }
      status.textContent = "live · call " + callId;
    });
    source.addEventListener("partial", function (event) {
      const segment = JSON.parse(event.data);
      const old = partials[segment.speaker];
      if (!segment.text) { if (old) { old.remove(); delete partials[segment.speaker]; } return; }
      const li = line(segment, true);
      if (old) { old.replaceWith(li); } else { list.append(li); }
      partials[segment.speaker] = li;
    });
    source.addEventListener("final", function (event) {
      const segment = JSON.parse(event.data);
      if (partials[segment.speaker]) { partials[segment.speaker].remove(); delete partials[segment.speaker]; }
      list.append(line(segment, false));
      Object.values(partials).forEach(function (li) { list.append(li); });  // partials stay last
      refreshCasePart(caseId, "suggestions");
    });
    source.addEventListener("end", function () {
      source.close();
      Object.values(partials).forEach(function (li) { li.remove(); });  // guesses no final confirmed
      status.textContent = "call ended · transcript on case #" + caseId;
      refreshCasePart(caseId, "case-transcript", 60);
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        status.textContent = "no live transcript for this call (it is on its case once the call ends)";
      }
    });
  }

  function followDesk() {
    const desk = document.querySelector("#desk [data-follow-call]");
    if (desk && (!live || live.callId !== desk.dataset.followCall)) {
      follow(desk.dataset.followCall, desk.dataset.followCase);
      // A new call: its case comes up to be filled in, unless the agent is working on a case already.
      if (!document.querySelector("#case [id^='case-']")) {
        htmx.ajax("GET", "/console/agent/cases/" + desk.dataset.followCase, {target: "#case"});
      }
    }
  }

  // The desk changed (a call came, was answered, ended): the agent's case list may have a new case.
  document.addEventListener("htmx:sseMessage", function (event) {
    const cases = document.getElementById("cases");
    if (cases && event.detail.type === "desk") { htmx.trigger(cases, "refresh"); }
  });

  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
  document.addEventListener("htmx:afterSettle", followDesk);
  document.addEventListener("DOMContentLoaded", function () {
    const page = document.querySelector("[data-server-now]");
    if (page) { skew = Date.parse(page.dataset.serverNow) - Date.now(); }
    tick();
    followDesk();
  });
})();

// The rota editor: its forms posted as JSON (empty fields left out, so the API's defaults apply; a
// field marked data-list is a list), the outcome of an edit in #flash (a refusal lists the rule findings:
// rule, agent, both shifts in local time; an accepted edit its warnings), and drag and drop of shifts
// between the cells of the week grid. Every change goes through the JSON API.
(function () {
  htmx.defineExtension("rota-form", hotlineJsonForm(function (parameters, form) {
    const body = {};
    if (form) { form.querySelectorAll("[data-list][name]").forEach(function (i) { body[i.name] = []; }); }
    for (const [key, value] of parameters.entries()) {
      const input = form ? form.querySelector("[name='" + key + "']") : null;
      if (input && "skip" in input.dataset) { continue; }
      if (input && "list" in input.dataset) { body[key].push(value); continue; }
      if (value !== "") { body[key] = value; }
    }
    return body;
  }));

  const RULES = {overlap: "Overlapping shifts", max_shift: "Shift too long", min_rest: "Too little rest"};
  const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

  function localTime(iso) {  // "2026-03-02T20:00:00+01:00" → "Mon 2026-03-02 20:00" (the wall clock it names)
    const day = iso.slice(0, 10);
    return WEEKDAYS[new Date(day + "T00:00:00Z").getUTCDay()] + " " + day + " " + iso.slice(11, 16);
  }

  function findingText(f) {
    const shifts = f.shifts.map(function (s) {
      return localTime(s.start) + " to " + localTime(s.end) + " " + s.timezone + (s.id ? " (#" + s.id + ")" : " (pattern)");
    });
    return (RULES[f.rule] || f.rule) + " · agent " + f.agent + " · " + shifts.join(" and ");
  }

  function add(parent, tag, text, className) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (className) { el.className = className; }
    parent.appendChild(el);
    return el;
  }

  function list(parent, id, items) {
    const ul = add(parent, "ul", "");
    ul.id = id;
    items.forEach(function (item) { add(ul, "li", item); });
  }

  window.rotaOutcome = function (status, text) {
    const flash = document.getElementById("flash");
    flash.replaceChildren();
    let body = null;
    try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
    if (status >= 200 && status < 300) {
      const warnings = (body && body.warnings) || [];
      flash.className = warnings.length ? "warn" : "ok";
      let head = "Saved.";
      if (body && Array.isArray(body.skipped)) {
        head = "Copied " + body.shifts.length + " shifts and " + body.breaks.length + " breaks.";
      }
      add(flash, "p", warnings.length ? head + " With warnings:" : head, "flash-head");
      if (warnings.length) { list(flash, "flash-warnings", warnings.map(findingText)); }
      if (body && Array.isArray(body.skipped) && body.skipped.length) { list(flash, "flash-skipped", body.skipped); }
      return true;
    }
    flash.className = "error";
    if (body && Array.isArray(body.findings) && body.findings.length) {
      add(flash, "p", status + " Refused, nothing changed:", "flash-head");
      list(flash, "flash-findings", body.findings.map(findingText));
      add(flash, "p", body.detail, "muted");
      return false;
    }
    let detail = status + "";
    if (body && typeof body.detail === "string") { detail += " " + body.detail; }
    else if (body && Array.isArray(body.detail)) {
      detail += " " + body.detail.map(function (d) { return d.loc.slice(-1)[0] + ": " + d.msg; }).join("; ");
    }
    add(flash, "p", detail, "flash-head");
    return false;
  };

  function refreshRota() {
    const week = document.getElementById("rota-week");
    if (week) { htmx.ajax("GET", week.dataset.refresh, {target: "#rota", swap: "innerHTML"}); }
  }

  window.rotaDone = function (event) {
    const xhr = event.detail.xhr;
    if (!xhr) { return; }
    if (rotaOutcome(xhr.status, xhr.responseText)) { refreshRota(); }
  };

  // The shift form: a number edits that one-off shift (PUT), no number adds one (POST).
  window.rotaShiftTarget = function (event, form) {
    const id = form.elements.id.value.trim();
    if (id) { event.detail.verb = "put"; event.detail.path = "/api/v1/shifts/" + id; }
  };

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; } catch (e) { return ""; }
  }

  function send(method, path, body) {
    const init = {method: method, credentials: "same-origin",
                  headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()}};
    if (body !== undefined) { init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        if (rotaOutcome(response.status, text)) { refreshRota(); }
      });
    }, function (error) { rotaOutcome(0, JSON.stringify({detail: "The server did not answer: " + error})); });
  }

  function refuse(message) { rotaOutcome(409, JSON.stringify({detail: message})); }

  function daysBetween(a, b) {
    return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / 86400000);
  }

  // Drop shift ``block`` (shown on ``block.dataset.day``) on the cell of ``agent`` and ``day``.
  function moveShift(block, agent, day) {
    const d = block.dataset;
    const delta = daysBetween(d.day, day);
    if (d.source === "one-off") {
      if (delta === 0 && agent === d.agent) { return; }
      const target = delta === 0 ? [d.start, d.end] : JSON.parse(d.moves)[String(delta)];
      if (!target) { refuse("A shift moves by at most a week at a time."); return; }
      send("PUT", "/api/v1/shifts/" + d.shiftId, {agent: agent, start: target[0], end: target[1],
                                                  timezone: d.timezone, kind: d.kind, note: d.note});
      return;
    }
    if (delta !== 0) {
      refuse("This shift comes from a " + (d.source === "swap" ? "swapped " : "") + "pattern: it stays on its day. "
             + "Change the pattern, or add a one-off shift; to hand it to someone else, drop it on their row the same day.");
      return;
    }
    if (d.source === "pattern") {
      if (agent !== d.agent) { send("POST", "/api/v1/swaps", {agent: d.agent, start: d.start, to: agent}); }
    } else if (agent === d.origin) {
      send("DELETE", "/api/v1/swaps/" + d.swapId);
    } else if (agent !== d.agent) {
      send("PUT", "/api/v1/swaps/" + d.swapId, {agent: d.origin, start: d.start, to: agent, note: d.swapNote});
    }
  }

  let dragged = null;
  function cellOf(target) { return target && target.closest ? target.closest("#rota-grid .rota-cell") : null; }
  function clearTargets() {
    document.querySelectorAll("#rota-grid .drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  }
  document.addEventListener("dragstart", function (event) {
    const block = event.target.closest ? event.target.closest("#rota-grid .shift[draggable=true]") : null;
    if (!block) { return; }
    dragged = block;
    document.body.classList.add("rota-dragging");  // until dragend: the drag is over only then
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", block.dataset.start);
  });
  document.addEventListener("dragover", function (event) {
    const cell = cellOf(event.target);
    if (dragged && cell) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      if (!cell.classList.contains("drop-target")) { clearTargets(); cell.classList.add("drop-target"); }
    }
  });
  document.addEventListener("drop", function (event) {
    const cell = cellOf(event.target);
    if (!dragged || !cell) { return; }
    event.preventDefault();
    const block = dragged;
    dragged = null;
    clearTargets();
    moveShift(block, cell.dataset.agent, cell.dataset.day);
  });
  document.addEventListener("dragend", function () {
    dragged = null;
    clearTargets();
    document.body.classList.remove("rota-dragging");
  });

  // Keyboard and pointer fallbacks: Enter on a one-off shift loads it in the shift form; × deletes.
  document.addEventListener("keydown", function (event) {
    const block = event.target.closest ? event.target.closest("#rota-grid .shift.one-off") : null;
    if (!block || event.key !== "Enter") { return; }
    event.preventDefault();  // or the Enter reaches the input focused below and submits the form at once
    const form = document.getElementById("shift-form");
    const d = block.dataset;
    form.elements.id.value = d.shiftId;
    form.elements.agent.value = d.agent;
    form.elements.start.value = d.localStart;
    form.elements.end.value = d.localEnd;
    form.elements.kind.value = d.kind;
    form.elements.note.value = d.note;
    form.elements.start.focus();
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest ? event.target.closest("#rota .rota-delete") : null;
    if (!button || !window.confirm("Delete " + button.dataset.what + "?")) { return; }
    send("DELETE", button.dataset.delete);
  });
})();
