// The workspace's keyboard, the approve button's override rule and the undo countdown.
// No inline scripts anywhere (the Content-Security-Policy forbids them): all of it is here.
(function () {
  "use strict";
  const body = document.body;
  const page = body.dataset.page;
  const singleKeys = () => body.dataset.shortcuts === "on";
  const $ = (selector) => document.querySelector(selector);

  function typing(target) {
    if (!target || !target.tagName) return false;
    const tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // -- the help overlay ----------------------------------------------------------------
  const help = $("#keys-help");
  function toggleHelp(show) {
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
  }
  const helpButton = $("#keys-button");
  if (helpButton) helpButton.addEventListener("click", () => toggleHelp());
  const helpClose = $("#keys-close");
  if (helpClose) helpClose.addEventListener("click", () => toggleHelp(false));

  // -- the queue: a selected row moved by j/k ------------------------------------------
  function rows() {
    return Array.from(document.querySelectorAll("#queue-rows tr.row"));
  }
  let selected = 0;
  function select(index) {
    const all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => row.classList.toggle("selected", i === selected));
    all[selected].scrollIntoView({ block: "nearest" });
  }
  function openSelected() {
    const row = rows()[selected];
    if (row) window.location.href = row.dataset.href;
  }
  if (page === "queue") {
    select(0);
    document.addEventListener("htmx:afterSwap", () => select(selected));
    rows().forEach((row, i) =>
      row.addEventListener("click", (event) => {
        if (event.target.tagName.toLowerCase() !== "a") { select(i); openSelected(); }
      })
    );
  }

  // -- the review page ------------------------------------------------------------------
  const approveButton = $("#approve-button");
  const overrideReason = $("#override-reason");
  function refreshApprove() {
    if (!approveButton || approveButton.dataset.senior === "needed") return;
    if (approveButton.dataset.englishChanged === "yes") return;
    if (approveButton.dataset.needsOverride === "yes") {
      approveButton.disabled = !(overrideReason && overrideReason.value.trim());
    } else {
      approveButton.disabled = false;
    }
  }
  if (overrideReason) overrideReason.addEventListener("input", refreshApprove);
  // An unsaved edit of the English would be lost by approving the customer text as it is.
  const english = $("#english");
  if (english && approveButton) {
    const saved = english.value;
    english.addEventListener("input", () => {
      const changed = english.value !== saved;
      approveButton.dataset.englishChanged = changed ? "yes" : "no";
      approveButton.title = changed ? "Save the English and translate again first" : "";
      if (changed) approveButton.disabled = true; else refreshApprove();
    });
  }
  function approve() {
    if (approveButton && !approveButton.disabled) {
      $("#approve-form").requestSubmit(approveButton);
    } else if (overrideReason) {
      overrideReason.focus();
    }
  }
  function focusField(selector) {
    const field = $(selector);
    if (field) { field.focus(); if (field.select && field.tagName.toLowerCase() === "input") field.select(); }
  }

  // -- the undo countdown ---------------------------------------------------------------
  document.querySelectorAll("form.undo[data-until]").forEach((form) => {
    const until = Date.parse(form.dataset.until);
    const label = form.querySelector(".seconds-left");
    function tick() {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) { form.remove(); return; }
      if (label) label.textContent = String(left);
      window.setTimeout(tick, 250);
    }
    tick();
  });

  // -- keys -----------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      if (target && target.id === "composer") { event.preventDefault(); approve(); }
      return;
    }
    if (event.key === "Escape") {
      if (help && !help.hidden) { toggleHelp(false); return; }
      if (typing(target)) { target.blur(); return; }
      if (page === "review") { window.location.href = $("#back").getAttribute("href"); }
      return;
    }
    if (typing(target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!singleKeys()) return;
    const key = event.key;
    if (key === "?") { toggleHelp(); event.preventDefault(); return; }
    if (page === "queue") {
      if (key === "j") select(selected + 1);
      else if (key === "k") select(selected - 1);
      else if (key === "o" || key === "Enter") openSelected();
      else if (key === "/") { event.preventDefault(); focusField("#search"); }
      else return;
      event.preventDefault();
      return;
    }
    if (page === "review") {
      if (key === "u") window.location.href = $("#back").getAttribute("href");
      else if (key === "e") focusField("#composer");
      else if (key === "a") approve();
      else if (key === "r") focusField("#reject-reason");
      else if (key === "x") focusField("#escalate-reason");
      else if (key === "g") { const instruction = $("#instruction"); if (instruction) instruction.focus(); else { const form = $("#redraft-form"); if (form) form.requestSubmit(); } }
      else if (key === "/") window.location.href = "/queue";
      else return;
      event.preventDefault();
    }
  });
})();
