// Starts Swagger UI on /docs from the settings the service put on #swagger-ui, so the page
// needs no inline script (a Content-Security-Policy of script-src 'self' allows it).
"use strict";

const root = document.getElementById("swagger-ui");
const config = JSON.parse(root.dataset.config);
window.ui = SwaggerUIBundle({
  ...config,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
