# The web pages' libraries from npm (package-lock.json), served as the project's static files.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ELN_NODE_MODULES=/app/node_modules
WORKDIR /app
COPY pyproject.toml README.md ./
COPY eln eln
COPY samples samples
COPY cells cells
COPY analysis analysis
COPY manage.py ./
COPY --from=assets /assets/node_modules node_modules
RUN pip install --no-cache-dir . && python manage.py collectstatic --no-input -v 0
EXPOSE 8000
CMD ["gunicorn", "eln.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
