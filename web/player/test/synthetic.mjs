// A small hand-made recording that exercises what the real fixtures do not: CSSOM rule edits (nested indexes),
// style declarations, style object diffs, constructed/adopted sheets, :hover, rr_* attributes, element scroll,
// form state, SVG camelCase tags, shadow DOM, custom elements and out-of-order adds (iframe documents: safety test).
const PNG_RED = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFklEQVR4AWP4z8DwHwyBNBgC2QwMDAB5HgX7bVGJcgAAAABJRU5ErkJggg==';

export function syntheticRecording() {
  const t0 = 1_790_000_000_000;
  const E = (tagName, id, attributes = {}, childNodes = [], extra = {}) => ({ type: 2, tagName, id, attributes, childNodes, ...extra });
  const T = (id, textContent) => ({ type: 3, id, textContent });
  const css = 'p:hover { color: red; } .box { width: 50px; height: 50px; background: blue; } @media (min-width: 1px) { .m { color: green; } }';
  const doc = { type: 0, id: 1, childNodes: [
    { type: 1, id: 2, name: 'html', publicId: '', systemId: '' },
    E('html', 3, {}, [
      E('head', 4, {}, [
        E('style', 5, {}, [T(6, css)]),
        E('link', 7, { rel: 'stylesheet', href: 'http://site.test/a.css', _cssText: 'body { font: 14px sans-serif; margin: 8px; } .n { font-weight: bold; }' }),
      ]),
      E('body', 8, {}, [
        E('div', 10, { id: 'scroller', style: 'height: 80px; overflow: auto; border: 1px solid #999', rr_scrollTop: 120 }, [
          E('div', 11, { style: 'height: 600px; background: linear-gradient(#fff, #09f)' }, [T(12, 'scroll content')]),
        ]),
        E('div', 13, { class: 'box m', id: 'box' }, [T(14, 'box')]),
        E('div', 15, { class: 'rr-block', rr_width: '120px', rr_height: '30px' }),
        E('img', 16, { rr_dataURL: PNG_RED, width: '20', height: '20', alt: '' }),
        E('svg', 17, { width: '60', height: '30' }, [
          E('defs', 18, {}, [E('lineargradient', 19, { id: 'g' }, [E('stop', 20, { offset: '0', 'stop-color': 'red' }, [], { isSVG: true }), E('stop', 21, { offset: '1', 'stop-color': 'yellow' }, [], { isSVG: true })], { isSVG: true })], { isSVG: true }),
          E('rect', 22, { width: '60', height: '30', fill: 'url(#g)' }, [], { isSVG: true }),
        ], { isSVG: true }),
        E('input', 23, { id: 'cb', type: 'checkbox' }),
        E('input', 24, { id: 'txt', type: 'text', value: 'start' }),
        E('textarea', 25, { id: 'ta', value: 'initial text' }),
        E('select', 26, { id: 'sel' }, [E('option', 27, { value: 'a' }, [T(28, 'A')]), E('option', 29, { value: 'b' }, [T(30, 'B')])]),
        E('p', 31, { id: 'hov' }, [T(32, 'hover me')]),
        E('my-el', 33, { id: 'host' }, [E('span', 34, { class: 'n' }, [T(35, 'in shadow')], { isShadow: true })], { isShadowHost: true, isCustom: true }),
        E('iframe', 36, { id: 'fr', width: '200', height: '60' }),
        E('div', 37, { id: 'list' }, [T(38, 'list:')]),
      ]),
    ]),
  ] };
  const ev = [];
  let t = t0;
  const push = (type, data, dt = 100) => { t += dt; ev.push({ type, data, timestamp: t }); };
  push(4, { href: 'http://site.test/', width: 800, height: 600 }, 0);
  push(2, { node: doc, initialOffset: { top: 0, left: 0 } }, 10);
  push(3, { source: 16, define: { name: 'my-el' } });
  push(3, { source: 8, id: 5, adds: [{ rule: '.added { outline: 3px solid red; }', index: 1 }] });
  push(3, { source: 8, id: 5, adds: [{ rule: '.m .n, .m { text-decoration: underline; }', index: [3, 1] }] });
  push(3, { source: 8, id: 5, adds: [{ rule: '.tmp { color: pink; }', index: 4 }] });
  push(3, { source: 8, id: 5, removes: [{ index: 4 }] });
  push(3, { source: 13, id: 5, index: [2], set: { property: 'background', value: 'rgb(0, 128, 0)', priority: '' } });
  push(3, { source: 0, texts: [], removes: [], adds: [], attributes: [{ id: 13, attributes: { class: 'box m added', style: { width: '90px', border: ['2px solid black', 'important'] } } }] });
  push(3, { source: 15, id: 1, styleIds: [1], styles: [{ styleId: 1, rules: [{ rule: 'body { border-top: 6px solid orange; }', index: 0 }] }] });
  push(3, { source: 8, styleId: 1, adds: [{ rule: '#list { color: purple; }', index: 1 }] });
  push(3, { source: 15, id: 33, styleIds: [2], styles: [{ styleId: 2, rules: [{ rule: 'span { color: teal; font-style: italic; }', index: 0 }] }] });
  push(3, { source: 3, id: 10, x: 0, y: 250 });
  push(3, { source: 5, id: 23, text: 'on', isChecked: true });
  push(3, { source: 5, id: 24, text: 'hello world', isChecked: false });
  push(3, { source: 5, id: 25, text: 'typed\nlines', isChecked: false });
  push(3, { source: 5, id: 26, text: 'b', isChecked: false });
  push(3, { source: 1, positions: [{ x: 30, y: 300, id: 32, timeOffset: 0 }] });
  push(3, { source: 0, texts: [], removes: [], attributes: [], adds: [
    { parentId: 37, nextId: 201, node: E('span', 200, {}, []) },
    { parentId: 200, nextId: null, node: T(202, ' first') },
    { parentId: 37, nextId: null, node: E('span', 201, {}, []) },
    { parentId: 201, nextId: null, node: T(203, ' second') },
  ] });
  push(3, { source: 0, texts: [{ id: 38, value: 'list (edited):' }], removes: [{ parentId: 8, id: 15 }], attributes: [], adds: [] });
  push(3, { source: 0, texts: [], removes: [], attributes: [], adds: [{ parentId: 33, nextId: null, node: E('b', 210, {}, [], { isShadow: true }) }, { parentId: 210, nextId: null, node: T(211, ' more shadow') }] });
  push(3, { source: 4, width: 760, height: 560 }, 500);
  push(3, { source: 1, positions: [{ x: 40, y: 300, id: 32, timeOffset: 0 }] }, 500);
  return ev;
}
