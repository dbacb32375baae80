// The boxes of the elements with these bids, in viewport CSS pixels (= screenshot pixels at
// device scale 1), clipped to the viewport (fixed, in-project script; the model never sends
// JavaScript). Elements that are hidden (display, visibility, opacity 0), empty or outside
// the viewport are left out. `covered`: the point at the middle of the clipped box hits
// another element (a dialog over it), so a click there would not reach this one.
(bids) => {
  const width = window.innerWidth, height = window.innerHeight;
  const boxes = {};
  for (const bid of bids) {
    const el = document.querySelector(`[bid="${CSS.escape(bid)}"]`);
    if (el === null) continue;
    const visible = typeof el.checkVisibility !== "function" || el.checkVisibility(
      {opacityProperty: true, visibilityProperty: true, checkOpacity: true, checkVisibilityCSS: true});
    if (!visible) continue;
    const rect = el.getBoundingClientRect();
    const left = Math.round(Math.max(0, rect.left)), top = Math.round(Math.max(0, rect.top));
    const right = Math.round(Math.min(width, rect.right)), bottom = Math.round(Math.min(height, rect.bottom));
    if (right - left < 1 || bottom - top < 1) continue;
    const hit = document.elementFromPoint(left + Math.floor((right - left) / 2), top + Math.floor((bottom - top) / 2));
    boxes[bid] = {
      x: left, y: top, w: right - left, h: bottom - top, tag: el.tagName.toLowerCase(),
      covered: hit !== null && hit !== el && !el.contains(hit),
    };
  }
  return boxes;
}
