/* Job page (/jobs/{id}): poll /jobs/{id}.json and update the status, progress bar and buttons in
   place, so focus and the reading position stay where they are. Without JS, a <noscript> meta
   refresh reloads the page instead. */
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root || root.getAttribute("data-job-finished") === "true" || !window.fetch) { return; }
  var url = root.getAttribute("data-job-url");
  // A "being prepared" page (report download): once the job is done, fetch the report again from
  // its own address, which now reads the cached file (or, if the content changed meanwhile, says
  // it is being prepared again).
  var then = root.getAttribute("data-job-then");
  // The page's words in its language (data-job-texts, written by templates/jobs/job.html); English
  // if the attribute is missing.
  var texts = {};
  try { texts = JSON.parse(root.getAttribute("data-job-texts") || "{}"); } catch (e) { texts = {}; }
  var labels = texts.statuses || { queued: "Waiting to start", running: "Running", done: "Done", failed: "Failed", cancelled: "Cancelled" };
  var waiting = texts.waiting || "Waiting";
  function ofText(done, total) { return (texts.of || "{done} of {total}").replace("{done}", function () { return done; }).replace("{total}", function () { return total; }); }
  function downloadText(name) { return (texts.download || "Download {name}").replace("{name}", function () { return name; }); }
  var delay = 1000;
  function byId(id) { return document.getElementById(id); }
  function show(id, visible) { var el = byId(id); if (el) { el.hidden = !visible; } }
  function render(job) {
    var status = byId("job-status");
    if (status.getAttribute("data-status") !== job.status) {
      status.setAttribute("data-status", job.status);
      status.textContent = labels[job.status] || job.status;
    }
    var bar = byId("job-progress");
    var p = job.progress;
    if (p.percent === null || p.percent === undefined) {
      bar.removeAttribute("value");
      bar.textContent = waiting;
    } else {
      bar.value = p.percent;
      bar.textContent = p.percent + "%";
    }
    var text = p.message || (p.total ? ofText(p.done, p.total) : "");
    // The bar's text equivalent ("12 of 50 sites (24%)"); the status line below it is a polite
    // live region, so a screen reader hears each change without moving focus.
    if (text) {
      bar.setAttribute("aria-valuetext", text + (p.percent === null || p.percent === undefined ? "" : " (" + p.percent + "%)"));
    } else {
      bar.removeAttribute("aria-valuetext");
    }
    var message = byId("job-message");
    if (message.textContent !== text) { message.textContent = text; }
    byId("job-error-text").textContent = job.error || "";
    show("job-error", !!job.error);
    show("job-cancelling", job.cancel_requested && !job.finished);
    show("job-cancel", !job.finished && !job.cancel_requested);
    show("job-retry", job.status === "failed" || job.status === "cancelled");
    if (job.download_url && !then) {
      byId("job-download-link").href = job.download_url;
      if (job.result_filename) { byId("job-download-link").textContent = downloadText(job.result_filename); }
    }
    show("job-download", !!job.download_url);
    if (job.finished) { root.setAttribute("data-job-finished", "true"); }
    if (then && job.status === "done") { window.location.assign(then); }
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.json(); })
      .then(function (job) {
        render(job);
        delay = 1000;
        if (!job.finished) { window.setTimeout(poll, delay); }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  // the server is busy or restarting: back off, keep trying
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
