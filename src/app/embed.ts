// The embedding example page: <interbasis-graph> with its src from ?src=URL.
import '../browser/component.js';

const src = new URL(location.href).searchParams.get('src');
const g = document.getElementById('g')!;
if (src) g.setAttribute('src', src);
