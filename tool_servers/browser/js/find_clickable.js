// The bid of the first visible clickable element (link, button, submit input) whose text
// equals `wanted` ignoring case and surrounding space; null when there is none. Used by
// WebShop's `click[value]` action. Run after mark.js.
(wanted) => {
  const norm = (s) => (s || "").replace(/\s+/g, " ").trim().toLowerCase();
  const target = norm(wanted);
  const nodes = document.querySelectorAll("a, button, input[type=submit], input[type=button]");
  for (const el of nodes) {
    const style = window.getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    if (norm(el.innerText || el.value) === target) return el.getAttribute("bid");
  }
  return null;
}
