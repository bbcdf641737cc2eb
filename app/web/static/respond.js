/* Respondent form: save every answer as it is given, show/hide conditional questions.
   Without this script the form still works: "Save and continue" posts the whole page. */
(function () {
  "use strict";
  // A new page starts at its heading (not at the top of the document, eight Tab stops before the
  // first question), unless the link points at one question (the review page's list does).
  var target = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  var heading = document.querySelector("h1[data-focus-on-load]");
  if (!target && heading) { heading.focus(); }

  var form = document.getElementById("response-form");
  if (!form) { return; }
  var url = form.getAttribute("data-autosave-url");
  var csrf = form.getAttribute("data-csrf");
  var page = parseInt(form.getAttribute("data-page"), 10);
  var stateEl = document.getElementById("save-state");
  var answeredEl = document.getElementById("answered-count");
  var shownEl = document.getElementById("shown-count");
  var queue = [];          // pending saves, sent one at a time and in order
  var sending = false;
  var retryDelay = 1000;
  var commentTimer = null;
  // The words come from the page (data-msg-*), in the respondent's language; English if absent.
  function msg(name, fallback) { return form.getAttribute("data-msg-" + name) || fallback; }

  function setState(kind, text) {
    if (!stateEl) { return; }
    stateEl.className = "save-state " + kind;
    stateEl.textContent = text;
  }

  function currentValue(itemId) {
    var checked = form.querySelector('input[type=radio][name="item:' + itemId + '"]:checked');
    return checked ? checked.value : "";
  }

  function hasSource(itemId) {
    return form.querySelector('input[type=radio][name="item:' + itemId + '"]') !== null;
  }

  function setShown(fieldset, shown) {
    fieldset.hidden = !shown;
    // Hidden questions must not post their values with the page.
    fieldset.querySelectorAll("input").forEach(function (input) { input.disabled = !shown; });
  }

  // Same rule as the server (app.scoring.visible_items): the source must be shown and answered,
  // and its answer in `in` / not in `not_in`. Sources on other pages are decided by the server.
  function applyConditions() {
    var changed = true;
    var rounds = 0;
    while (changed && rounds < 10) {
      changed = false;
      rounds += 1;
      form.querySelectorAll("fieldset[data-show-item]").forEach(function (fieldset) {
        var source = fieldset.getAttribute("data-show-item");
        if (!hasSource(source)) { return; }
        var sourceSet = document.getElementById("q-" + source);
        var value = sourceSet && !sourceSet.hidden ? currentValue(source) : "";
        var inList = fieldset.getAttribute("data-show-in");
        var notIn = fieldset.getAttribute("data-show-not-in");
        var shown = value !== "" &&
          (inList === null || inList.split(" ").indexOf(value) !== -1) &&
          (notIn === null || notIn.split(" ").indexOf(value) === -1);
        if (shown === fieldset.hidden) { setShown(fieldset, shown); changed = true; }
      });
    }
  }

  function applyServerVisibility(visible) {
    form.querySelectorAll("fieldset[data-item]").forEach(function (fieldset) {
      setShown(fieldset, visible.indexOf(fieldset.getAttribute("data-item")) !== -1);
    });
  }

  function send() {
    if (sending || queue.length === 0) { return; }
    sending = true;
    var payload = queue[0];
    setState("saving", msg("saving", "Saving…"));
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    }).then(function (result) {
      sending = false;
      if (result.status >= 200 && result.status < 300) {
        queue.shift();
        retryDelay = 1000;
        markSaved(payload);
        if (result.body.visible && queue.length === 0) { applyServerVisibility(result.body.visible); }
        if (answeredEl && typeof result.body.answered === "number") {
          answeredEl.textContent = result.body.answered;
          shownEl.textContent = result.body.shown;
        }
        if (queue.length === 0) { setState("saved", msg("saved", "Saved")); } else { send(); }
      } else if (result.status >= 400 && result.status < 500 && result.status !== 429 && result.status !== 408) {
        // The server refused this answer (locked, closed or invalid): retrying will not help.
        queue.shift();
        markItem(payload, "failed", msg("not-saved", "Not saved —").replace(/\s*—\s*$/, ""));
        setState("failed", msg("not-saved", "Not saved —") + " " + (result.body.detail || msg("refused", "the answer was refused.")));
        send();
      } else {
        retryLater();
      }
    }).catch(function () {
      sending = false;
      retryLater();
    });
  }

  // "Saved" beside the question whose answer was saved, as well as in the status line at the end
  // of the page (which screen readers announce): on a phone the end of the page is far away.
  function markItem(payload, kind, text) {
    if (!payload.item_id) { return; }
    var el = document.getElementById("saved-" + payload.item_id);
    if (!el) { return; }
    form.querySelectorAll(".item-saved").forEach(function (other) {
      if (other !== el && other.className.indexOf("failed") === -1) { other.textContent = ""; }
    });
    el.className = "item-saved " + kind;
    el.textContent = text;
  }

  function markSaved(payload) { markItem(payload, "saved", msg("saved", "Saved")); }

  function markChosen(fieldset) {
    fieldset.querySelectorAll("label.choice").forEach(function (label) {
      var input = label.querySelector("input");
      label.classList.toggle("chosen", !!(input && input.checked));
    });
  }

  function retryLater() {
    setState("failed", msg("retrying", "Not saved — retrying…"));
    setTimeout(send, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  function enqueue(payload) {
    // A newer save of the same question or comment replaces one still waiting (not the one in flight).
    var key = payload.item_id || ("comment:" + payload.domain_id);
    for (var i = queue.length - 1; i >= (sending ? 1 : 0); i -= 1) {
      var other = queue[i].item_id || ("comment:" + queue[i].domain_id);
      if (other === key) { queue.splice(i, 1); }
    }
    queue.push(payload);
    send();
  }

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (target.type === "radio" && target.name.indexOf("item:") === 0) {
      var fieldset = target.closest("fieldset");
      if (fieldset) { markChosen(fieldset); }
      markItem({ item_id: target.name.slice(5) }, "saving", msg("saving", "Saving…"));
      applyConditions();
      enqueue({ item_id: target.name.slice(5), value: target.value, page: page });
    }
  });

  // An answer chosen before this script ran (a slow phone or server) had no change event: it is
  // saved now, as if just chosen, so that it is not left to "Save and continue" alone.
  form.querySelectorAll('input[type=radio][name^="item:"]').forEach(function (input) {
    if (input.checked && !input.defaultChecked) {
      var early = input.closest("fieldset");
      if (early) { markChosen(early); }
      enqueue({ item_id: input.name.slice(5), value: input.value, page: page });
    }
  });

  var comment = document.getElementById("comment");
  var countEl = document.getElementById("comment-count");
  var limitEl = document.getElementById("comment-limit");
  var lang = document.documentElement.lang || "en";
  var lastWarning = "";

  function fill(text, used, left, max) {
    return text.replace("{used}", used.toLocaleString(lang)).replace("{left}", left.toLocaleString(lang))
      .replace("{max}", max.toLocaleString(lang));
  }

  // Counted as the server counts: a line break is one character (the server turns CRLF into LF).
  function updateCount() {
    if (!comment || !countEl) { return; }
    var max = parseInt(comment.getAttribute("maxlength"), 10) || 5000;
    var used = comment.value.replace(/\r\n/g, "\n").length;
    var left = Math.max(max - used, 0);
    countEl.hidden = false;
    countEl.textContent = fill(msg("count", "{used} of {max} characters"), used, left, max);
    countEl.className = "hint comment-count" + (left <= 200 ? " near-limit" : "");
    // Announced only near the limit, so that a screen reader does not read every keystroke.
    var warning = left === 0 ? fill(msg("at-limit", "The comment is at the limit of {max} characters."), used, left, max)
      : (left <= 200 ? fill(msg("left", "{left} characters left."), used, left, max) : "");
    var bucket = left === 0 ? "full" : (left <= 200 ? String(Math.ceil(left / 50)) : "");
    if (limitEl && bucket !== lastWarning) { limitEl.textContent = warning; lastWarning = bucket; }
  }

  if (comment) {
    updateCount();
    comment.addEventListener("input", updateCount);
    var saveComment = function () {
      clearTimeout(commentTimer);
      enqueue({ domain_id: comment.getAttribute("data-domain"), comment: comment.value, page: page });
    };
    comment.addEventListener("input", function () {
      clearTimeout(commentTimer);
      setState("", msg("typing", "Typing…"));
      commentTimer = setTimeout(saveComment, 800);
    });
    comment.addEventListener("blur", function () { if (commentTimer) { saveComment(); commentTimer = null; } });
  }

  // "Save and continue" / "Back" post the whole page, so nothing pending is lost by leaving.
  var submitting = false;
  form.addEventListener("submit", function () { submitting = true; });

  window.addEventListener("beforeunload", function (event) {
    if (!submitting && (queue.length > 0 || commentTimer)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // Long conditions come in parts. On a phone, one part at a time: "Next questions" shows the
  // next part and moves to its heading; the page's own buttons appear with the last part.
  // Wider screens (and browsers without this script) show every part at once.
  var parts = Array.prototype.slice.call(form.querySelectorAll("section.form-part"));
  var phone = window.matchMedia && window.matchMedia("(max-width: 40rem)").matches;
  function hasQuestions(part) { return part.querySelector("fieldset.question:not([hidden])") !== null; }
  function showPartsUpTo(index) {
    parts.forEach(function (part, i) {
      part.hidden = i > index;
      var next = part.querySelector(".next-part");
      if (next) { next.hidden = i !== index || i === parts.length - 1; }
    });
    var rest = form.querySelectorAll(".after-parts");
    rest.forEach(function (el) { el.hidden = index < parts.length - 1; });
  }
  if (phone && parts.length > 1) {
    var shownUpTo = 0;
    // A link to one question (from the review page) opens the parts up to it.
    if (target) {
      parts.forEach(function (part, i) { if (part.contains(target)) { shownUpTo = i; } });
    }
    showPartsUpTo(shownUpTo);
    form.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest(".next-part") : null;
      if (!button) { return; }
      event.preventDefault();
      var index = parts.indexOf(button.closest("section.form-part")) + 1;
      // Skip parts whose questions are all hidden by earlier answers.
      while (index < parts.length - 1 && !hasQuestions(parts[index])) { index += 1; }
      showPartsUpTo(index);
      var partHeading = parts[index].querySelector("h2");
      if (partHeading) { partHeading.focus(); }
    });
  }
  if (target && target.hidden === false) { target.scrollIntoView(); }

  applyConditions();
})();
