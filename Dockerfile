FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY eln eln
COPY samples samples
COPY cells cells
COPY analysis analysis
COPY manage.py ./
RUN pip install --no-cache-dir . && python manage.py collectstatic --no-input -v 0
EXPOSE 8000
CMD ["gunicorn", "eln.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
