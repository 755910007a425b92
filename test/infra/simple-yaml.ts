/**
 * Reads the small YAML subset azure.yaml uses: nested mappings of scalars, `#` comments, no lists, no anchors.
 * Anything else is an error, so the test notices when azure.yaml outgrows this reader.
 */
export type YamlMap = { [key: string]: string | YamlMap };

export function parseSimpleYaml(text: string): YamlMap {
  const root: YamlMap = {};
  const stack: { indent: number; map: YamlMap }[] = [{ indent: -1, map: root }];
  text.split(/\r?\n/).forEach((raw, index) => {
    const withoutComment = raw.replace(/(^|\s)#.*$/, '');
    if (withoutComment.trim() === '') return;
    const indent = withoutComment.length - withoutComment.trimStart().length;
    const match = /^([A-Za-z0-9_.-]+):(?:\s+(.*))?$/.exec(withoutComment.trim());
    if (!match) throw new Error(`azure.yaml line ${index + 1}: only "key: value" mappings are supported`);
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const parent = stack[stack.length - 1]!.map;
    const key = match[1]!;
    const value = match[2]?.trim();
    if (value === undefined || value === '') {
      const child: YamlMap = {};
      parent[key] = child;
      stack.push({ indent, map: child });
    } else {
      parent[key] = value.replace(/^(['"])(.*)\1$/, '$2');
    }
  });
  return root;
}
