"""The web demo: a Gradio page (app), its model-side work (service) and the deep-zoom view (zoom, pyramid)."""
