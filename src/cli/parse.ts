/** Parsers of flag values shared by the CLI's commands (commander's argParser). */
import { InvalidArgumentError } from 'commander';

/** A parser of an id flag (`--plan`, `--run`): a whole number of 1 or more. */
export function parseId(what: string): (v: string) => number {
  return (v: string): number => {
    if (!/^[1-9][0-9]{0,15}$/.test(v))
      throw new InvalidArgumentError(`a ${what} is a whole number such as 1`);
    return Number(v);
  };
}

/** A parser of a count flag (`--limit`): a whole number of 1 or more. */
export function parseCount(v: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new InvalidArgumentError('it takes a whole number of 1 or more');
  return Number(v);
}
