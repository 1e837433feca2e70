// The one script of the app: a package's progress, read every two seconds while it builds.
// Without it the page still works: "Refresh" shows the progress, and the job runs on the server.
(function () {
  var box = document.getElementById("job");
  if (!box) { return; }
  var bar = document.getElementById("progress"), label = document.getElementById("progress-label");
  function poll() {
    fetch(box.dataset.status, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (job) {
      if (job.state === "done" || job.state === "failed") { window.location.reload(); return; }
      bar.max = job.total || 1; bar.value = job.done;
      label.textContent = job.state === "queued" ? "Waiting to start" : "Building: " + job.done + " of " + job.total + " items";
      window.setTimeout(poll, 2000);
    }).catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
