// Entry point of the dashboard bundle (scripts/build-web.ts).
import { options, render } from 'preact'
import { App } from './app.js'

// A busy VM sends thousands of events a second: render at most once a frame's worth of time.
options.debounceRendering = (flush) => { setTimeout(flush, 16) }

const root = document.getElementById('app')
if (root !== null) render(<App />, root)
