// Herald UI: small enhancements only; every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Expand and collapse a webhook's details.
  document.querySelectorAll("[data-toggle]").forEach((btn) => {
    btn.addEventListener("click", () => {
      const target = document.getElementById(btn.dataset.toggle);
      if (!target) return;
      const open = btn.getAttribute("aria-expanded") !== "true";
      btn.setAttribute("aria-expanded", String(open));
      target.hidden = !open;
    });
  });

  // Filter a list of options by the text typed in a search box.
  document.querySelectorAll("input[data-filter]").forEach((input) => {
    const list = document.getElementById(input.dataset.filter);
    const count = document.querySelector(`[data-count="${input.dataset.filter}"]`);
    if (!list) return;
    const update = () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      list.querySelectorAll(".option").forEach((li) => {
        const text = li.textContent.toLowerCase();
        const match = words.every((w) => text.includes(w));
        li.hidden = !match;
        if (match) shown++;
      });
      const checked = list.querySelectorAll("input:checked").length;
      if (count) count.textContent = `${shown} shown, ${checked} selected`;
    };
    ["input", "change", "search"].forEach((ev) => input.addEventListener(ev, update));
    list.addEventListener("change", update);
    update();
  });

  // "All customers" excludes particular customers and the other way round.
  document.querySelectorAll("[data-exclusive]").forEach((list) => {
    const value = list.dataset.exclusive;
    list.addEventListener("change", (e) => {
      const box = e.target;
      if (!(box instanceof HTMLInputElement) || !box.checked) return;
      list.querySelectorAll("input[type=checkbox]").forEach((other) => {
        if (other === box) return;
        if (box.value === value || other.value === value) other.checked = false;
      });
    });
  });

  // Show or hide a secret; copy it.
  document.querySelectorAll("[data-reveal]").forEach((btn) => {
    btn.addEventListener("click", () => {
      const input = document.getElementById(btn.dataset.reveal);
      if (!input) return;
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      btn.textContent = show ? "Hide" : "Show";
      btn.setAttribute("aria-pressed", String(show));
    });
  });
  document.querySelectorAll("[data-copy]").forEach((btn) => {
    btn.addEventListener("click", async () => {
      const input = document.getElementById(btn.dataset.copy);
      if (!input) return;
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (_) {
        const type = input.type;
        input.type = "text";
        input.select();
        document.execCommand("copy");
        input.type = type;
      }
      btn.textContent = "Copied";
      setTimeout(() => { btn.textContent = "Copy"; }, 2000);
    });
  });

  // A log row opens its attempt (its time cell holds the same link for the keyboard).
  document.querySelectorAll("tr[data-href]").forEach((row) => {
    row.addEventListener("click", (e) => {
      if (e.target instanceof Element && e.target.closest("a, button")) return;
      window.location.href = row.dataset.href;
    });
  });
});
