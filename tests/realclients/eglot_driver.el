;;; Drives minicode-lsp from Emacs + Eglot in batch mode, the way a user's Emacs would.
;;; Environment: MC_WS (workspace), MC_PY (python with minicode_lsp), MC_OUT (JSON result file).
;;; Prompts (window/showMessageRequest) are answered by Eglot's own handler (completing-read),
;;; which in batch mode reads one line from stdin: the test feeds the answers there.
(require 'eglot)
(require 'json)
(require 'cl-lib)

;; The setup docs/editors/other.md gives: MiniCode asks once per edit (showMessageRequest);
;; Eglot's own y/n for server edits is turned off so nothing is asked twice.
(setq eglot-sync-connect 30
      eglot-confirm-server-initiated-edits nil)
(defvar mc-ws (file-name-as-directory (getenv "MC_WS")))
(add-to-list 'eglot-server-programs `((python-mode) . (,(getenv "MC_PY") "-m" "minicode_lsp" "serve")))

(defvar mc-finished nil "Alist: turnId -> stopReason.")
(defvar mc-messages nil "window/showMessage texts.")
(defvar mc-prompts nil "Prompts seen, newest first.")
(cl-defmethod eglot-handle-notification (_s (_m (eql minicode/event)) &key turnId type data &allow-other-keys)
  (when (equal type "turn.finished")
    (push (cons turnId (plist-get data :stopReason)) mc-finished)))
(cl-defmethod eglot-handle-notification (_s (_m (eql minicode/readiness)) &rest _) nil)
(cl-defmethod eglot-handle-notification (_s (_m (eql minicode/sessions)) &rest _) nil)
(cl-defmethod eglot-handle-notification :before (_s (_m (eql window/showMessage)) &key message &allow-other-keys)
  (push message mc-messages))

;; The user types a line at the top of a.py while the second approval prompt is open.
(advice-add 'completing-read :before
            (lambda (prompt &rest _)
              (push prompt mc-prompts)
              (when (= (length mc-prompts) 2)
                (with-current-buffer (get-file-buffer (expand-file-name "a.py" mc-ws))
                  (save-excursion (goto-char (point-min)) (insert "# typed while the prompt was open\n"))))))

;; Eglot sends didChange on an idle timer; batch Emacs is never idle, so a plain timer plays it.
(run-at-time 0.5 0.5
             (lambda ()
               (dolist (b (buffer-list))
                 (with-current-buffer b
                   (when (bound-and-true-p eglot--managed-mode)
                     (eglot--signal-textDocument/didChange))))))

(defun mc-wait-turn (turn)
  (let ((deadline (+ (float-time) 120)))
    (while (and (not (assoc turn mc-finished)) (< (float-time) deadline))
      (accept-process-output nil 0.1))
    (cdr (assoc turn mc-finished))))

(defun mc-run (args)
  (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                   `(:command "minicode.task.run" :arguments [,args]) :timeout 60))

(let (result)
  (find-file (expand-file-name "a.py" mc-ws))
  (python-mode)
  (apply #'eglot (eglot--guess-contact))     ; eglot-ensure waits for a command loop batch mode never runs
  (let ((deadline (+ (float-time) 60)))
    (while (and (not (eglot-current-server)) (< (float-time) deadline))
      (accept-process-output nil 0.2)))
  (condition-case err
      (let* ((ids (mc-run '(:prompt "edit a.py twice and b.py once")))
             (stop (mc-wait-turn (plist-get ids :turnId)))
             (explain (mc-run '(:prompt "explain a.py" :showResult t :permissionMode "plan")))
             (explain-stop (mc-wait-turn (plist-get explain :turnId)))
             (follow (mc-run `(:prompt "and then?" :sessionId ,(plist-get explain :sessionId))))
             (follow-stop (mc-wait-turn (plist-get follow :turnId))))
        (accept-process-output nil 1.0)
        (setq result
              `((stop . ,stop) (explain . ,explain-stop) (followup . ,follow-stop)
                (a_buffer . ,(with-current-buffer (get-file-buffer (expand-file-name "a.py" mc-ws))
                               (buffer-substring-no-properties (point-min) (point-max))))
                (b_buffer_open . ,(if (get-file-buffer (expand-file-name "b.py" mc-ws)) t :json-false))
                (prompts . ,(vconcat (reverse mc-prompts)))
                (messages . ,(vconcat (reverse mc-messages))))))
    (error (setq result `((error . ,(format "%S" err)) (prompts . ,(vconcat (reverse mc-prompts)))))))
  (with-temp-file (getenv "MC_OUT") (insert (json-encode result)))
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (kill-emacs 0))
