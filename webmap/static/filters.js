/* The issue filter form (templates/_filters.html): choosing a street narrows the
   community choices to that street's communities. Without script the server renders
   only the chosen street's communities; this keeps the choice in step before the form
   is submitted. Attached here, not inline, so a strict Content-Security-Policy allows it. */
"use strict";

(function () {
  function narrow(street, community) {
    var all = JSON.parse(community.getAttribute("data-communities") || "[]");
    var prefix = street.value ? street.value.slice(0, 9) : "";
    var chosen = community.value;
    while (community.options.length) community.remove(0);
    community.add(new Option(community.getAttribute("data-all") || "", ""));
    all.forEach(function (c) {  // c = [code, name]; a community's code starts with its street's 9 digits
      if (!prefix || c[0].slice(0, 9) === prefix) community.add(new Option(c[1], c[0]));
    });
    community.value = chosen;
    if (community.value !== chosen) community.value = "";  // not in this street: any community
  }
  function attach() {
    var street = document.getElementById("f-street");
    var community = document.getElementById("f-community");
    if (!street || !community) return;
    street.addEventListener("change", function () { narrow(street, community); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", attach);
  else attach();
})();
