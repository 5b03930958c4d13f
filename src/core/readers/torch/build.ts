import { stepFromFilePath } from '../../run/stepNames';
import {
  AUXILIARY_STATE_ROLES,
  emptyRunData,
  type ParamGroupHyper,
  type RunData,
  type TensorRef,
  type TensorRole,
  type TensorSnapshot,
} from '../../run/types';
import { withFile } from '../../io/fileBytes';
import { PyDict, TorchTensor } from '../pickle/values';
import type { LoadedTorchFile } from './load';
import type { ModelPart } from './structure';
import { asNumber } from './structure';
import { mapOptimizerIds, parseOptimizer, shapeKey, type TorchReadOptions } from './optimizerIds';
import { FLOAT_DTYPES, modelParameters, readScalarTensor, tensorRef } from './tensorRefs';
import { optimizerHyper } from './hyper';

// One RunData with one TensorSnapshot from a model part and an optimizer part (of one file, a
// model + optimizer pair, or a Hugging Face checkpoint folder): parameters, optimizer state by
// parameter name, hyper-parameters, and the step.

export interface ModelSource {
  file: LoadedTorchFile;
  part: ModelPart;
}

export interface OptimizerSource {
  file: LoadedTorchFile;
  osd: PyDict;
  where: string;
  optimizerCount: number;
}

export interface BuildInput {
  /** Model state dicts (one, or the shards of a sharded checkpoint in order). */
  models?: ModelSource[];
  optimizer?: OptimizerSource;
  /** Step stated by a checkpoint dict or a wrapper (Lightning `global_step`, HF trainer_state). */
  statedStep?: number | null;
  /** File or folder whose name may carry the step. */
  namePath: string;
  scalars?: Record<string, number>;
  /** Role of the model's tensors: 'param_after' when saved with optimizer state after a step. */
  modelRole: TensorRole;
  format: string;
  inputs: { path: string; format: string }[];
  /** Hint for AdamW vs Adam when no group says (e.g. HF Trainer's default optimizer). */
  decoupledHint?: string;
  /** Model parameters from another reader (HF model.safetensors); `ordered`: in named_parameters() order. */
  externalModel?: { refs: TensorRef[]; ordered: boolean };
  options?: TorchReadOptions;
}

/** Merge a model part and an optimizer part into one RunData with one TensorSnapshot. */
export async function buildRunData(input: BuildInput): Promise<RunData> {
  const run = emptyRunData();
  run.inputs = input.inputs;
  const issues = run.issues;
  const tensors: TensorRef[] = [];
  const skipped: string[] = [];
  const scalars: Record<string, number> = { ...(input.scalars ?? {}) };

  // Model parameters (several sources for sharded checkpoints, in shard order).
  const params: { name: string; shape: number[] }[] = [];
  let paramsOrdered = true;
  for (const { file, part } of input.models ?? []) {
    const ps = modelParameters(part, file.path, issues);
    for (const t of ps) {
      if (t.name in run.layerShapes) {
        issues.push({
          severity: 'warning',
          path: file.path,
          message: `parameter '${t.name}' appears in more than one model file; the first is used`,
        });
        continue;
      }
      const ref = tensorRef(file, t.tensor, t.name, input.modelRole, t.key);
      if (typeof ref === 'string') {
        skipped.push(`${t.key} (${ref})`);
        continue;
      }
      tensors.push(ref);
      run.layerOrder.push(t.name);
      run.layerShapes[t.name] = [...t.tensor.shape];
      params.push({ name: t.name, shape: t.tensor.shape });
    }
    const nonFloat = part.tensors.filter((t) => !FLOAT_DTYPES[t.tensor.storage.dtype]).map((t) => t.key);
    if (nonFloat.length) {
      issues.push({
        severity: 'warning',
        path: file.path,
        message: `skipped ${nonFloat.length} non-float tensors (buffers or integer data): ${nonFloat.slice(0, 8).join(', ')}${nonFloat.length > 8 ? ', …' : ''}`,
      });
    }
  }
  if (input.externalModel) {
    for (const ref of input.externalModel.refs) {
      if (ref.layer in run.layerShapes) continue;
      tensors.push({ ...ref, role: input.modelRole });
      run.layerOrder.push(ref.layer);
      run.layerShapes[ref.layer] = [...ref.shape];
      params.push({ name: ref.layer, shape: ref.shape });
    }
    paramsOrdered = input.externalModel.ordered;
  }

  // Optimizer state.
  let step: number | null = null;
  let snapshotGroups: ParamGroupHyper[] | undefined;
  const layerState: Record<string, Record<string, number>> = {};
  if (input.optimizer) {
    const { file, osd } = input.optimizer;
    const opt = parseOptimizer(osd, file.path, issues);
    if (input.optimizer.optimizerCount > 1) {
      issues.push({
        severity: 'warning',
        path: file.path,
        message: `${input.optimizer.optimizerCount} optimizers in the checkpoint; only ${input.optimizer.where} is analysed`,
      });
    }
    // Parameter order unknown (safetensors sorts by name): only param_names or unique shapes are certain.
    const mapping = mapOptimizerIds(opt, params, file.path, issues, {
      assumeGroupOrder: input.options?.assumeGroupOrder,
      orderKnown: paramsOrdered,
    });
    const haveModel = params.length > 0;
    if (!haveModel) {
      // No model: name the state by its place in the param groups.
      opt.groups.forEach((g, gi) =>
        g.ids.forEach((id, i) => {
          if (!mapping.names.has(id)) {
            mapping.names.set(id, `param_group${gi}.${i}`);
            mapping.how.set(id, 'group-position');
          }
        }),
      );
    }
    const steps = new Set<number>();
    const groupScalars = new Map<TorchTensor, number>();
    await withFile(file.path, async (fh) => {
      // One-element tensors in the groups (torch 2.x tensor lr/betas, timm LAMB's group step).
      for (const g of opt.groups) {
        for (const v of g.raw.map.values()) {
          for (const t of Array.isArray(v) ? v : [v]) {
            if (t instanceof TorchTensor && t.numel === 1) {
              const x = await readScalarTensor(file, fh, t);
              if (x !== null) groupScalars.set(t, x);
            }
          }
        }
      }
      for (const [id, st] of opt.state) {
        const s = st.step;
        const v = s instanceof TorchTensor ? await readScalarTensor(file, fh, s) : asNumber(s ?? null);
        if (v !== null && Number.isFinite(v)) steps.add(v);
        let layer = mapping.names.get(id);
        if (layer === undefined) {
          if (haveModel) continue; // reported by the mapping warning
          layer = `state.${id}`;
        }
        // The parameter's scalar state (its own step, NAdam's mu_product, Adafactor's RMS) for its update rule.
        const own: Record<string, number> = {};
        for (const [k, x] of st.scalars) {
          const n = x instanceof TorchTensor ? await readScalarTensor(file, fh, x) : asNumber(x);
          if (n !== null && Number.isFinite(n)) own[k] = n;
        }
        if (Object.keys(own).length) layerState[layer] = own;
        for (const [role, t] of st.tensors) {
          const key = `${input.optimizer!.where ? input.optimizer!.where + '.' : ''}state.${id}.${role}`;
          if (
            haveModel &&
            run.layerShapes[layer] &&
            !AUXILIARY_STATE_ROLES.has(role) &&
            shapeKey(run.layerShapes[layer]) !== shapeKey(t.shape)
          ) {
            issues.push({
              severity: 'warning',
              path: file.path,
              message: `${key} has shape [${t.shape}] but parameter '${layer}' has [${run.layerShapes[layer]}]; skipped`,
            });
            continue;
          }
          const ref = tensorRef(file, t, layer, role, key);
          if (typeof ref === 'string') {
            skipped.push(`${key} (${ref})`);
            continue;
          }
          tensors.push(ref);
          if (!haveModel && !(layer in run.layerShapes) && !AUXILIARY_STATE_ROLES.has(role)) {
            run.layerOrder.push(layer);
            run.layerShapes[layer] = [...t.shape];
          }
        }
      }
    });
    if (steps.size > 1) {
      issues.push({
        severity: 'warning',
        path: file.path,
        message: `optimizer state holds different step counts (${[...steps]
          .sort((a, b) => a - b)
          .slice(0, 6)
          .join(', ')}); using the largest`,
      });
    }
    if (steps.size > 0) step = Math.max(...steps);

    // Hyper-parameters.
    const { hyper, groups } = optimizerHyper(opt, mapping, file.path, issues, input.decoupledHint, groupScalars);
    run.hyper = hyper;
    run.paramGroups = groups;
    snapshotGroups = groups;
    if (step === null) {
      // timm's LAMB counts steps per group, not per parameter.
      const groupSteps = groups.map((g) => g.options?.step).filter((x): x is number => typeof x === 'number');
      if (groupSteps.length) step = Math.max(...groupSteps);
    }
    opt.groups.forEach((g, gi) => {
      for (const [k, v] of g.raw.map) {
        const x = asNumber(v);
        if (typeof k === 'string' && x !== null && k !== 'params') scalars[`param_groups.${gi}.${k}`] = x;
      }
    });
    if (hyper.lr !== null && hyper.lr !== undefined) scalars.lr = hyper.lr;
  }
  if (skipped.length) {
    issues.push({
      severity: 'warning',
      path: input.namePath,
      message: `skipped ${skipped.length} tensors: ${skipped.slice(0, 8).join('; ')}${skipped.length > 8 ? '; …' : ''}`,
    });
  }

  // Step: optimizer state's step count, else what the checkpoint states, else the name.
  const stated = input.statedStep ?? null;
  if (step !== null && !Number.isInteger(step)) step = Math.round(step);
  if (step !== null && stated !== null && stated !== step) {
    issues.push({
      severity: 'warning',
      path: input.namePath,
      message: `checkpoint states step ${stated} but the optimizer state has taken ${step} steps; using ${step}`,
    });
  }
  if (step === null) step = stated;
  if (step === null) step = stepFromFilePath(input.namePath);
  if (step !== null) scalars.step = step;

  const snapshot: TensorSnapshot = {
    step,
    tensors,
    path: input.namePath,
    scalars,
    ...(snapshotGroups ? { paramGroups: snapshotGroups } : {}),
    ...(Object.keys(layerState).length ? { layerState } : {}),
  };
  run.snapshots.push(snapshot);
  return run;
}
