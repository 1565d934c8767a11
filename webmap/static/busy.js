/* A form marked `data-busy="text"` shows that the server is working once submitted: its
   submit button is disabled (no second click starts a second run) and shows a spinner
   and the text. Used by the planner's balance suggestion, which takes several seconds. */
"use strict";

document.addEventListener("submit", function (e) {
  var form = e.target;
  if (!form.dataset || !form.dataset.busy) return;
  var button = form.querySelector("button[type=submit]");
  if (!button) return;
  // Disabled after this event (a button disabled before it would drop from the form), and
  // only when no other listener cancelled the submission.
  setTimeout(function () {
    if (e.defaultPrevented) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = "";
    var spinner = document.createElement("span");
    spinner.className = "spinner-border spinner-border-sm me-1";
    spinner.setAttribute("aria-hidden", "true");
    button.appendChild(spinner);
    button.appendChild(document.createTextNode(form.dataset.busy));
  }, 0);
});
