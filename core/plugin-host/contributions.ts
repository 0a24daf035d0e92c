/** The contributions registry: many providers per token, each owned by a plugin and withdrawn with it. */
import type { InjectionToken } from 'tsyringe';

interface Contribution {
  readonly plugin: string;
  readonly order: number;
  readonly seq: number;
  readonly value: unknown;
}

/** A printable name for a token: a symbol's description, a class's name, or the string itself. */
export function tokenName(token: InjectionToken<unknown>): string {
  if (typeof token === 'symbol') return token.description ?? token.toString();
  if (typeof token === 'function') return token.name || '(anonymous class)';
  if (typeof token === 'string') return token;
  return String(token);
}

/**
 * What `ctx.provide` writes and `ctx.resolveAll` reads. Providers of a token come back in plugin start
 * order (then in the order one plugin provided them), so the result is the same on every run.
 */
export class ContributionRegistry {
  private readonly byToken = new Map<InjectionToken<unknown>, Contribution[]>();
  private seq = 0;

  /** Adds `value` as a provider of `token`, owned by `plugin` whose start position is `order`. */
  provide<T>(plugin: string, order: number, token: InjectionToken<T>, value: T): void {
    const list = this.byToken.get(token) ?? [];
    list.push({ plugin, order, seq: this.seq++, value });
    list.sort((a, b) => a.order - b.order || a.seq - b.seq);
    this.byToken.set(token, list);
  }

  /** Every provider of `token`, in start order. */
  resolveAll<T>(token: InjectionToken<T>): T[] {
    return (this.byToken.get(token) ?? []).map((c) => c.value as T);
  }

  /** The plugins providing `token`, in start order (one entry per provider). */
  providersOf(token: InjectionToken<unknown>): string[] {
    return (this.byToken.get(token) ?? []).map((c) => c.plugin);
  }

  /** Removes everything `plugin` provided; returns how many providers went. */
  withdraw(plugin: string): number {
    let removed = 0;
    for (const [token, list] of this.byToken) {
      const kept = list.filter((c) => c.plugin !== plugin);
      removed += list.length - kept.length;
      if (kept.length === 0) this.byToken.delete(token);
      else this.byToken.set(token, kept);
    }
    return removed;
  }

  /** Tokens `plugin` provides (for `xeno plugins --verbose` and tests). */
  tokensOf(plugin: string): InjectionToken<unknown>[] {
    return [...this.byToken].filter(([, list]) => list.some((c) => c.plugin === plugin)).map(([token]) => token);
  }
}
