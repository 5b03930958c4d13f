import type { RunData, TensorRef } from './types';

/** Fill layerOrder (first seen) and layerShapes; report a layer whose tensors disagree in shape. */
export function fillLayers(run: RunData, tensors: TensorRef[]): void {
  for (const t of tensors) {
    const known = run.layerShapes[t.layer];
    if (!known) {
      run.layerOrder.push(t.layer);
      run.layerShapes[t.layer] = t.shape;
    } else if (known.length !== t.shape.length || known.some((d, i) => d !== t.shape[i])) {
      run.issues.push({
        severity: 'warning',
        path: t.source.path,
        offset: t.source.offset,
        message: `tensor '${t.key}' has shape [${t.shape.join(', ')}] but layer '${t.layer}' has shape [${known.join(', ')}] elsewhere`,
      });
    }
  }
}
