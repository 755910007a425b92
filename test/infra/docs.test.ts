/**
 * The admin guides in docs/: every relative link (and #anchor) leads somewhere, and the deployment guide
 * gives both ways to deploy.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const GUIDES = [
  'docs/deploy.md',
  'docs/tenant-onboarding.md',
  'docs/operations.md',
  'docs/user-guide.md',
  'docs/shared-mailboxes.md',
  'docs/architecture.md',
];

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '');
  const headings = [...withoutCode.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1]!);
  return new Set(
    headings.map((h) =>
      h
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('the admin guides', () => {
  it.each(GUIDES)('%s links only to files and headings that exist', (guide) => {
    const text = readFileSync(path.join(ROOT, guide), 'utf8');
    const withoutCode = text.replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target] of withoutCode.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue;
      const [file, anchor] = target!.split('#');
      const resolved = file ? path.resolve(path.dirname(path.join(ROOT, guide)), file) : path.join(ROOT, guide);
      if (!existsSync(resolved)) broken.push(target!);
      else if (anchor && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) {
        broken.push(target!);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the deployment guide shows azd up and the equivalent az deployment command', () => {
    const deploy = readFileSync(path.join(ROOT, 'docs/deploy.md'), 'utf8');
    expect(deploy).toContain('azd up');
    expect(deploy).toMatch(/az deployment sub create[\s\S]*--template-file infra\/main\.bicep/);
    for (const guide of GUIDES.filter((g) => g !== 'docs/deploy.md')) {
      expect(deploy).toContain(`(${path.basename(guide)})`);
    }
  });
});
