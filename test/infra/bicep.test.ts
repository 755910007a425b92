/**
 * The Bicep reader the infra tests rely on: it must read what the templates write, evaluate it as ARM
 * would, and refuse (with file and line) what it does not understand rather than guess.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BicepDeployment, bodyOf, parseBicepText, property, undeclaredNames } from './bicep';

/** Writes Bicep files into a temporary folder and returns a deployment rooted there. */
function deploymentOf(files: Record<string, string>): BicepDeployment {
  const dir = mkdtempSync(path.join(tmpdir(), 'bicep-reader-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return new BicepDeployment(dir);
}

describe('the Bicep reader', () => {
  it('reads decorators, comments, escapes, interpolation and multi-line calls', () => {
    const text = `
// a comment
/* a block
   comment */
@description('It\\'s the \${name} prefix')
@allowed([
  'a'
  'b'
])
param prefix string = 'a'
param count int = 3
var name = '\${prefix}-\${toLower('X')}\\n'
var merged = union({
  one: 1
}, {
  'two-words': count * 2
})
output text string = name
output obj object = merged
`;
    const file = parseBicepText(text);
    expect([...file.params.keys()]).toEqual(['prefix', 'count']);
    expect(file.params.get('prefix')!.decorators).toHaveLength(2);
    const main = deploymentOf({ 'main.bicep': text }).scope('main.bicep', {});
    expect(main.output('text')).toBe('a-x\n');
    expect(main.output('obj')).toEqual({ one: 1, 'two-words': 6 });
  });

  it('evaluates modules, resources, runtime properties, for-expressions and conditions', () => {
    const deployment = deploymentOf({
      'main.bicep': `targetScope = 'subscription'
param env string
var names = [for (n, i) in ['a', 'b']: '\${n}\${i}']
module child 'child.bicep' = {
  name: 'child'
  params: {
    name: 'st\${env}'
    enabled: env == 'prod' ? true : false
  }
}
output endpoint string = child.outputs.blob
output names array = names
`,
      'child.bicep': `param name string
param enabled bool
param unused string = 'default'
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = if (enabled) {
  name: name
  properties: {
    allowSharedKeyAccess: !enabled
  }
}
output blob string = account.properties.primaryEndpoints.blob
output shared bool = account.properties.allowSharedKeyAccess
`,
    });
    const main = deployment.scope('main.bicep', { env: 'prod' });
    expect(main.output('endpoint')).toBe('https://stprod.blob.core.windows.net/');
    expect(main.output('names')).toEqual(['a0', 'b1']);
    const child = main.module('child');
    expect(child.output('shared')).toBe(false);
    expect(child.value(property(bodyOf(child.resource('account'), child.file), 'name')!)).toBe('stprod');
  });

  it('reports names that are used but never declared', () => {
    const file = parseBicepText(`param a string\nvar b = [for x in [a]: '\${x}\${c}']\noutput o string = toLower(a)\n`);
    expect(undeclaredNames(file)).toEqual([{ name: 'c', line: 2 }]);
  });

  it('refuses what it cannot follow, naming the file and line', () => {
    expect(() => parseBicepText(`param a string\nvar b = 'unterminated\n`, 'bad.bicep')).toThrow(
      'bad.bicep:2: unterminated string',
    );
    expect(() => parseBicepText(`resource r 'Microsoft.Web/sites' = {}\n`, 'bad.bicep')).toThrow('has no API version');
    expect(() => parseBicepText(`var a = 1 var b = 2\n`, 'bad.bicep')).toThrow('bad.bicep:1: expected a line break');
    const deployment = deploymentOf({
      'main.bicep': `param p string\noutput o string = reverse(p)\noutput n string = missing.outputs.x\noutput q string = p\n`,
    });
    const main = deployment.scope('main.bicep', { p: 'x' });
    expect(() => main.output('o')).toThrow('main.bicep:2: reverse(): unsupported function');
    expect(() => main.output('n')).toThrow('unknown name "missing"');
    expect(() => deployment.scope('main.bicep', {}).output('q')).toThrow('required parameter "p" is not given');
  });

  it('refuses a runtime property it has no placeholder for', () => {
    const deployment = deploymentOf({
      'main.bicep': `resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {\n  name: 'kv'\n}\noutput x string = vault.properties.somethingNew\n`,
    });
    expect(() => deployment.scope('main.bicep', {}).output('x')).toThrow(
      'no placeholder for Microsoft.KeyVault/vaults properties.somethingNew',
    );
  });
});
