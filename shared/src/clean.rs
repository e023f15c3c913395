//! Cue text to dialogue lines: tags, sound cues and lyrics out; speaker labels and dialogue dashes read.
