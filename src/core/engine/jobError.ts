import { ReaderError } from '../errors';

// Why a tensor job failed as a whole, as plain data: it crosses from a worker thread of the pool, and the tensor
// phase turns it into an issue on that layer (its tensors' own problems come back inside the figures).

export interface JobError {
  readerError: boolean;
  message: string;
  path?: string;
  line?: number;
  offset?: number;
}

export function jobErrorOf(e: unknown): JobError {
  const r = e instanceof ReaderError;
  return {
    readerError: r,
    message: r ? e.reason : String((e as Error)?.message ?? e),
    path: r ? e.path : undefined,
    line: r ? e.line : undefined,
    offset: r ? e.offset : undefined,
  };
}
