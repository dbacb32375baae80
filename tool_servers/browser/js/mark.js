// Give every element a stable BrowserGym-style `bid` attribute (fixed, in-project script;
// the model never sends JavaScript). Elements keep their bid for the life of the document;
// new elements get the next number; a bid copied onto a second element (innerHTML copies)
// is replaced so that bids stay unique. Returns the number of elements marked.
() => {
  const ATTR = "bid";
  let next = window.__agentRlNextBid || 0;
  const seen = new Set();
  let marked = 0;
  for (const el of document.querySelectorAll("*")) {
    let bid = el.getAttribute(ATTR);
    if (bid === null || seen.has(bid)) {
      bid = String(next++);
      el.setAttribute(ATTR, bid);
      marked++;
    }
    seen.add(bid);
  }
  window.__agentRlNextBid = next;
  return marked;
}
