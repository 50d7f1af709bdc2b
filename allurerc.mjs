// Allure Report 3 configuration: harness/report/html.py runs `allure generate` with it.
// One environment per target (the `target` label every scenario result carries), so the same
// scenarios on several targets are shown side by side; REPORT_TARGETS lists them (JSON).
const targets = JSON.parse(process.env.REPORT_TARGETS ?? "[]");

// Allure environment ids allow letters, digits, "_" and "-" only; the name is shown as is.
const environmentId = (target) =>
  target.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "target";

export default {
  name: "state-api: the acceptance scenarios",
  environments: Object.fromEntries(
    targets.map((target) => [
      environmentId(target),
      {
        name: target,
        matcher: ({ labels }) => labels.some((l) => l.name === "target" && l.value === target),
      },
    ]),
  ),
  plugins: {
    awesome: {
      options: {
        singleFile: true,
        reportLanguage: "en",
        // The tree reads as the spec: feature, then its scenarios (not the folder first).
        groupBy: ["feature"],
      },
    },
  },
};
