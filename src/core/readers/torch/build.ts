import { echo } from '../../errors';
import { stepFromFilePath } from '../../run/stepNames';
import {
  AUXILIARY_STATE_ROLES,
  emptyRunData,
  type ParamGroupHyper,
  type ReadIssue,
  type RunData,
  type TensorRef,
  type TensorRole,
  type TensorSnapshot,
} from '../../run/types';
import { withFile } from '../../io/fileBytes';
import { appendAll } from '../../arrays';
import { PyDict, TorchTensor } from '../pickle/values';
import type { LoadedTorchFile } from './torchFile';
import type { ModelPart, ScheduleState } from './structure';
import { asNumber } from './structure';
import { mapOptimizerIds, parseOptimizer, shapeKey, type TorchReadOptions } from './optimizerIds';
import { FLOAT_DTYPES, modelParameters, readScalarTensor, tensorLayout, tensorRef } from './tensorRefs';
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
  /** Adam or AdamW as another file states it (HF training_args `optim`): decides when the state cannot. */
  statedType?: 'adam' | 'adamw';
  /**
   * Model parameters from another reader (HF model.safetensors, a PEFT adapter): `ordered` true when in
   * named_parameters() order, 'inferred' when put in that order from their names (warned), false when
   * the order is unknown.
   */
  externalModel?: { refs: TensorRef[]; ordered: boolean | 'inferred' };
  /** The LR scheduler's state (scheduler.pt beside the checkpoint, a Lightning checkpoint's lr_schedulers). */
  schedule?: ScheduleState;
  options?: TorchReadOptions;
}

/** Per-tensor issues kept per file before one summary line says how many more there were. */
const MAX_TENSOR_ISSUES = 20;

/** Problems that mean the file is damaged (an error); the others are tensors we cannot analyze (a warning). */
function problemSeverity(reason: string): 'error' | 'warning' {
  return /missing|has \d+ bytes|runs past|ends at byte|reaches element|negative|overflows/.test(reason) ? 'error' : 'warning';
}

/** Merge a model part and an optimizer part into one RunData with one TensorSnapshot. */
export async function buildRunData(input: BuildInput): Promise<RunData> {
  const run = emptyRunData();
  run.inputs = input.inputs;
  const issues = run.issues;
  const tensors: TensorRef[] = [];
  const scalars: Record<string, number> = { ...(input.scalars ?? {}) };
  /** Layout (tensorLayout) of each ref, to check that every tensor of a layer lies in one memory order. */
  const layouts = new Map<TensorRef, string>();
  const tensorIssues: ReadIssue[] = [];
  let moreIssues = 0;
  /** One issue per unusable tensor, at the byte offset of the pickle opcode that built it when known. */
  const tensorProblem = (path: string, key: string, reason: string, offset?: number) => {
    if (tensorIssues.length >= MAX_TENSOR_ISSUES) {
      moreIssues++;
      return;
    }
    tensorIssues.push({
      severity: problemSeverity(reason),
      path,
      ...(offset !== undefined ? { offset } : {}),
      tensor: key,
      message: `tensor '${echo(key)}' skipped: ${reason}`,
    });
  };
  const addRef = (file: LoadedTorchFile, t: TorchTensor, layer: string, role: TensorRole, key: string): boolean => {
    const ref = tensorRef(file, t, layer, role, key);
    if (typeof ref === 'string') {
      tensorProblem(file.path, key, ref, file.pickleBase !== null ? file.pickleBase + t.pickleOffset : undefined);
      return false;
    }
    tensors.push(ref);
    layouts.set(ref, tensorLayout(t) ?? 'C');
    return true;
  };

  // Model parameters (several sources for sharded checkpoints, in shard order). A parameter whose tensor
  // cannot be read keeps its place (name, shape): the optimizer's ids count it.
  const params: { name: string; shape: number[] }[] = [];
  let paramsOrdered = true;
  for (const { file, part } of input.models ?? []) {
    noteFile(file, issues);
    const ps = modelParameters(part, file.path, issues);
    for (const t of ps) {
      if (t.name in run.layerShapes) {
        issues.push({
          severity: 'warning',
          path: file.path,
          tensor: t.key,
          message: `parameter '${echo(t.name)}' appears in more than one model file; the first is used`,
        });
        continue;
      }
      addRef(file, t.tensor, t.name, input.modelRole, t.key);
      run.layerOrder.push(t.name);
      run.layerShapes[t.name] = [...t.tensor.shape];
      params.push({ name: t.name, shape: t.tensor.shape });
    }
    const nonFloat = part.tensors.filter((t) => !FLOAT_DTYPES[t.tensor.storage.dtype]).map((t) => echo(t.key, 60));
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
    paramsOrdered = input.externalModel.ordered !== false;
    if (input.externalModel.ordered === 'inferred' && input.optimizer) {
      issues.push({
        severity: 'warning',
        path: input.namePath,
        message:
          `the adapter file does not record parameter order: named_parameters() order inferred from the key names ` +
          `(layer numbers, then the definition order of common modules: q/k/v/o projections, gate/up/down, lora_A before lora_B)`,
      });
    }
  }

  // Optimizer state.
  let step: number | null = null;
  let snapshotGroups: ParamGroupHyper[] | undefined;
  const layerState: Record<string, Record<string, number>> = {};
  if (input.optimizer) {
    const { file, osd } = input.optimizer;
    if (!(input.models ?? []).some((m) => m.file === file)) noteFile(file, issues);
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
    if (mapping.frozen.length > 0) run.frozenLayers = mapping.frozen;
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
              tensor: key,
              message: `${key} has shape [${t.shape}] but parameter '${echo(layer)}' has [${run.layerShapes[layer]}]; skipped`,
            });
            continue;
          }
          if (addRef(file, t, layer, role, key) && !haveModel && !(layer in run.layerShapes) && !AUXILIARY_STATE_ROLES.has(role)) {
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

    // Hyper-parameters, for the run and (lr, groups) for this checkpoint's own snapshot.
    const { hyper, groups } = optimizerHyper(opt, mapping, file.path, issues, input.decoupledHint, input.statedType, groupScalars);
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
  checkLayouts(tensors, layouts, tensorProblem);
  appendAll(issues, tensorIssues);
  if (moreIssues > 0) {
    issues.push({ severity: 'warning', path: input.namePath, message: `… and ${moreIssues} more tensors skipped` });
  }
  if (input.schedule) addSchedule(input.schedule, scalars);

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

/**
 * Tensors of a layer are paired element by element (param and exp_avg, exp_avg and exp_avg_sq): a
 * dense view read in memory order pairs correctly only with tensors in the same order. A layer whose
 * tensors lie in different orders keeps its C-ordered ones; the others get an issue.
 */
function checkLayouts(
  tensors: TensorRef[],
  layouts: Map<TensorRef, string>,
  problem: (path: string, key: string, reason: string) => void,
): void {
  const byLayer = new Map<string, Set<string>>();
  for (const t of tensors) {
    const l = layouts.get(t);
    if (l === undefined) continue;
    let set = byLayer.get(t.layer);
    if (!set) byLayer.set(t.layer, (set = new Set()));
    set.add(l);
  }
  for (let i = tensors.length - 1; i >= 0; i--) {
    const t = tensors[i];
    const l = layouts.get(t);
    const set = byLayer.get(t.layer);
    if (l === undefined || l === 'C' || !set || set.size === 1) continue;
    problem(
      t.source.path,
      t.key,
      `a transposed view (dimension order ${l.slice(5)}) while other tensors of layer '${echo(t.layer)}' are stored in another order; save it with .contiguous()`,
    );
    tensors.splice(i, 1);
  }
}

/** An LR scheduler's state as snapshot scalars: `scheduler.base_lrs.0`, `scheduler.last_lr.0`, `scheduler.last_epoch`. */
function addSchedule(schedule: ScheduleState, scalars: Record<string, number>): void {
  const at = schedule.where ? `${schedule.where}.` : 'scheduler.';
  if (schedule.lastEpoch !== null) scalars[`${at}last_epoch`] = schedule.lastEpoch;
  schedule.baseLrs.forEach((x, i) => (scalars[`${at}base_lrs.${i}`] = x));
  schedule.lastLr.forEach((x, i) => (scalars[`${at}last_lr.${i}`] = x));
}

/** Python objects the pickle holds that are not tensors, kept as inert placeholders: one warning naming their classes. */
function noteFile(file: LoadedTorchFile, issues: ReadIssue[]): void {
  const named = placeholderSummary(file.placeholders);
  if (named) {
    issues.push({
      severity: 'warning',
      path: file.path,
      message: `skipped Python objects that are not tensors (kept as inert placeholders, never imported or called): ${named}`,
    });
  }
}

/** `BCEWithLogitsLoss (torch.nn.modules.loss) ×2, LabelEncoder (sklearn.preprocessing._label)`, at most 10 classes. */
export function placeholderSummary(placeholders: Map<string, number>): string {
  if (placeholders.size === 0) return '';
  const parts: string[] = [];
  for (const [type, count] of placeholders) {
    if (parts.length === 10) break;
    const dot = type.lastIndexOf('.');
    const name = dot > 0 ? `${type.slice(dot + 1)} (${type.slice(0, dot)})` : type;
    parts.push(`${echo(name, 80)}${count > 1 ? ` ×${count}` : ''}`);
  }
  return `${parts.join(', ')}${placeholders.size > 10 ? `, and ${placeholders.size - 10} more classes` : ''}`;
}
