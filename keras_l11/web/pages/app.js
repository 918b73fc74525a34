// Shared by the demo pages: calls to TF Serving's REST API (same origin) that
// never hang, and messages people can act on.
"use strict";

const TIMEOUT_MS = 30000;

class DemoError extends Error {}

async function predict(model, signature, inputs, timeoutMs = TIMEOUT_MS) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(`/v1/models/${model}:predict`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ signature_name: signature, inputs }),
      signal: controller.signal,
    });
  } catch (err) {
    throw new DemoError(
      err.name === "AbortError"
        ? `The server did not answer within ${timeoutMs / 1000} s.`
        : "The server is not answering. Is `python -m serving --web` running?"
    );
  } finally {
    clearTimeout(timer);
  }
  let body = {};
  try {
    body = await response.json();
  } catch (err) {
    body = {};
  }
  if (response.status === 404) {
    throw new DemoError(`The model "${model}" is not loaded on this server (${body.error || "not found"}).`);
  }
  if (!response.ok) {
    throw new DemoError(body.error || `The server answered ${response.status}.`);
  }
  return body.outputs;
}

// TF Serving's columnar ("inputs") answers give a signature's only output as
// the value itself, and several outputs as an object by name.
function output(outputs, name) {
  return outputs !== null && !Array.isArray(outputs) && typeof outputs === "object" && name in outputs
    ? outputs[name]
    : outputs;
}

function showError(element, err) {
  element.textContent = err instanceof DemoError ? err.message : `Something went wrong: ${err}`;
  element.hidden = false;
}

function clearError(element) {
  element.textContent = "";
  element.hidden = true;
}

function readAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(new DemoError("The file could not be read."));
    reader.readAsDataURL(file);
  });
}
