// Colour encodings of the system menu (AttributionScanner Fig. 2 A): slice name,
// accuracy, confidence, spuriousness. Scales come from d3-scale-chromatic.
import { scaleOrdinal } from "d3-scale";
import {
  interpolateRdYlBu,
  interpolateRdYlGn,
  interpolateViridis,
  schemeTableau10,
} from "d3-scale-chromatic";
import type { SliceRow } from "./api";

export type Encoding = "slice" | "accuracy" | "confidence" | "spuriousness";
export const ENCODINGS: { value: Encoding; label: string }[] = [
  { value: "slice", label: "slice name" },
  { value: "accuracy", label: "accuracy" },
  { value: "confidence", label: "confidence" },
  { value: "spuriousness", label: "spuriousness" },
];
export const NONE = "#b0b0b0";

const ordinal = scaleOrdinal<string, string>(schemeTableau10);
export const sliceColor = (id: string): string => ordinal(id);

/** The colour ramp of a continuous encoding: value in [0, 1] -> colour. */
export function ramp(enc: Exclude<Encoding, "slice">): (v: number) => string {
  if (enc === "accuracy") return interpolateRdYlGn; // low accuracy is red
  if (enc === "confidence") return interpolateViridis;
  return (v: number) => interpolateRdYlBu(1 - v); // spurious is red, core blue
}

export function encode(enc: Encoding, row: SliceRow): string {
  if (enc === "slice") return sliceColor(row.id);
  const v = row[enc];
  return v === null || v === undefined ? NONE : ramp(enc)(Math.min(1, Math.max(0, v)));
}

/** CSS gradient of a continuous encoding, for legends. */
export function gradient(enc: Exclude<Encoding, "slice">): string {
  const f = ramp(enc);
  const stops = Array.from({ length: 11 }, (_, i) => `${f(i / 10)} ${i * 10}%`);
  return `linear-gradient(to right, ${stops.join(", ")})`;
}
