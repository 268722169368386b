function main(input) {
  const words = input.text.split(/\s+/).filter(Boolean);
  let longest = "";
  for (const w of words) {
    if (w.length > longest.length) longest = w;
  }
  reportProgress({ progress: 1, step: "count", message: words.length + " words" });
  return { count: words.length, longest: longest, words: words };
}
main;
