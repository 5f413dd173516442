// Mount an Observable Plot figure (the charting library; no hand-written chart code).
import { useEffect, useRef } from "react";

export default function PlotFigure({ make, testId }: { make: () => SVGSVGElement | HTMLElement; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = make();
    ref.current?.replaceChildren(el);
    return () => el.remove();
  }, [make]);
  return <div ref={ref} className="plot" data-testid={testId} />;
}
